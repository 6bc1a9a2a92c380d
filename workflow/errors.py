"""Errors of the workflow domain.

WorkflowError
├── NotFound          -- no such row, or not within the caller's scope (the API answers 404 for both)
├── Forbidden         -- the caller's roles do not allow the action on a row they can see (API: 403)
├── Conflict          -- the change contradicts stored state: duplicate code, overlapping validity (API: 409)
└── InvalidInput      -- the request is well-formed but not acceptable (API: 422)
"""

from __future__ import annotations


class WorkflowError(Exception):
    """Root of the workflow's errors."""


class NotFound(WorkflowError):
    pass


class Forbidden(WorkflowError):
    pass


class Conflict(WorkflowError):
    pass


class InvalidInput(WorkflowError):
    pass
