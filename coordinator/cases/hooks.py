"""What other services do when a case moves: in the same transaction as the case event (transactional outbox).

The case workflow calls :meth:`CaseHooks.fire` with the open session after it has appended a case event and
before it commits; listeners (SMS notices, certificate issuing and printing, statistics) add their own rows to
that session. If a listener raises, the case event is not committed either: nothing half-done is visible.
Listeners must be quick and do no I/O beyond the session — slow work (sending an SMS, printing) reads the rows
they queued, after the commit, from its own worker.

Event types are the case ledger's (``accepted``, ``supplement_requested``, ``concluded``, ``result_ready``, …).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlmodel import Session

from workflow.cases import Case

CaseListener = Callable[[Session, Case, str, dict[str, Any]], None]
"""``listener(session, case, event_type, event_data)``."""


class CaseHooks:
    def __init__(self) -> None:
        self._listeners: list[CaseListener] = []

    def register(self, listener: CaseListener) -> None:
        self._listeners.append(listener)

    def fire(self, session: Session, case: Case, event_type: str, data: dict[str, Any]) -> None:
        for listener in self._listeners:
            listener(session, case, event_type, data)
