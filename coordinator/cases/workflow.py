"""Case moves in a transaction: the engine appends ledger events, :class:`CaseHooks` listeners add their rows
(SMS, certificates) to the same session, then one commit. Two people moving the same case at once: the
ledger's unique ``(case_id, seq)`` lets exactly one commit; the other is retried once against the new state,
where the engine refuses it (e.g. "the step is no longer in progress") or takes it if it is still legal.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session

from coordinator.cases.hooks import CaseHooks
from workflow import case_engine, ledger
from workflow.case_engine import DEFAULT_POLICY, Command, Policy, mask_phone
from workflow.cases import Case
from workflow.errors import Conflict
from workflow.ledger import CaseEvent
from workflow.scope import Scope

log = logging.getLogger(__name__)
ATTEMPTS = 3


def _fire(session: Session, hooks: CaseHooks, case: Case, events: list[CaseEvent]) -> None:
    for event in events:
        hooks.fire(session, case, event.type, dict(event.data))


def commit_new(session: Session, hooks: CaseHooks, case: Case) -> Case:
    """Fire the hooks for a new case's ``submitted`` event (already appended) and commit."""
    assert case.id is not None
    _fire(session, hooks, case, ledger.events(session, case.id))
    session.commit()
    session.refresh(case)
    log.info("case %s submitted (applicant phone %s)", case.code, mask_phone(case.applicant_phone))
    return case


def act(session: Session, hooks: CaseHooks, scope: Scope, case_id: int, cmd: Command,
        policy: Policy = DEFAULT_POLICY, now: float | None = None) -> tuple[Case, list[CaseEvent]]:  # fmt: skip
    """Take ``cmd`` on the case and commit; a lost race is retried against the new state."""
    for attempt in range(ATTEMPTS):
        try:
            case, events = case_engine.act(session, scope, case_id, cmd, now, policy)
            _fire(session, hooks, case, events)
            session.commit()
        except (IntegrityError, OperationalError) as err:
            session.rollback()
            if isinstance(err, OperationalError) and "deadlock" not in str(err).lower():
                raise
            log.info("case %s: %s lost a race (attempt %d), retrying", case_id, cmd.action, attempt + 1)
            continue
        except BaseException:
            session.rollback()
            raise
        session.refresh(case)
        log.info("case %s: %s → %s", case.code, cmd.action, case.state)
        return case, events
    raise Conflict("办件正被他人同时办理，请刷新后重试")
