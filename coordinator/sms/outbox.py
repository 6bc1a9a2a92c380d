"""The CaseHooks listener that queues notices in the case event's transaction (transactional outbox).

The phone is the case's ``applicant_phone``; a case without one gets no notice (logged). Values of the texts
come from the case and the event's data (``missing``, ``outcome``, ``place``; ``delivery: mail`` of
``result_ready`` sends the "mailed" text).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from coordinator.models.sms import SmsMessage
from coordinator.sms.templates import EVENTS, OUTCOMES, mask_phone, render
from workflow.cases import Case
from workflow.org import Window

log = logging.getLogger(__name__)


class SmsOutbox:
    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self.now = now
        self.wake: Callable[[], None] = lambda: None
        """set by the sender: called after a commit that queued notices"""

    def on_case_event(self, session: Session, case: Case, event_type: str, data: dict[str, Any]) -> None:
        if event_type not in EVENTS:
            return
        kind = (
            "result_mailed" if event_type == "result_ready" and data.get("delivery") == "mail" else event_type
        )
        phone = (case.applicant_phone or "").strip()
        if not phone:
            log.info("case %s %s: no applicant phone, no SMS", case.code, event_type)
            return
        text = render(kind, self._values(session, case, data))
        now = self.now()
        session.add(
            SmsMessage(
                msg_id=str(uuid.uuid4()), case_id=case.id, kind=event_type, phone=phone[:20], text=text[:500],
                next_attempt_at=now, created_at=now,
            )
        )  # fmt: skip
        sa.event.listen(session, "after_commit", lambda _s: self.wake(), once=True)
        log.info("case %s %s: SMS to %s queued", case.code, event_type, mask_phone(phone))

    @staticmethod
    def _values(session: Session, case: Case, data: dict[str, Any]) -> dict[str, str]:
        missing = data.get("missing") or data.get("materials") or []
        if isinstance(missing, list):
            missing = "、".join(str(m.get("name", m)) if isinstance(m, dict) else str(m) for m in missing)
        outcome = str(data.get("outcome") or data.get("result") or data.get("decision") or "")
        place = str(data.get("place") or "")
        if not place and case.window_id is not None:
            window = session.get(Window, case.window_id)
            place = window.name if window is not None else ""
        return {
            "name": case.applicant_name,
            "item": case.title,
            "code": case.code,
            "missing": str(missing) or "详见办件告知书",
            "outcome": OUTCOMES.get(outcome, outcome or "详见办件结果"),
            "place": place or "受理窗口",
        }
