"""Errors of the coordinator.

CoordinatorError
├── SettingsError    -- the settings are unsafe or incomplete (refuses to start)
├── NotFoundError    -- an agent, device or command that does not exist (API: 404)
├── CommandError     -- a command that cannot be created as asked (API: 422)
└── ProvisioningRefused -- an enrollment, renewal or revocation refused; carries its HTTP status
"""

from __future__ import annotations


class CoordinatorError(Exception):
    """Root of the coordinator's errors."""


class SettingsError(CoordinatorError):
    pass


class NotFoundError(CoordinatorError):
    pass


class CommandError(CoordinatorError):
    pass


class ProvisioningRefused(CoordinatorError):
    def __init__(self, message: str, status_code: int = 403) -> None:
        super().__init__(message)
        self.status_code = status_code
