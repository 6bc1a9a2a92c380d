"""The SMS sender: claims due notices, sends them through the gateway, retries with exponential backoff.

A notice is claimed by moving its ``next_attempt_at`` past the attempt (a lease) in one conditional UPDATE,
so two senders never send the same attempt. Outcome: ``sent`` (with the gateway's ref), back to ``queued``
with ``next_attempt_at = now + min(base · 2^(attempts-1), max)`` after a temporary failure, ``failed`` after a
permanent one or ``max_attempts``. The clock is injectable so tests can live through a long outage at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, select

from coordinator.models.sms import SmsMessage, SmsStatus
from coordinator.sms.gateway import Gateway, Notice, PermanentFailure, TemporaryFailure
from coordinator.sms.templates import mask_phone

log = logging.getLogger(__name__)

SMS: sa.Table = SmsMessage.__table__  # type: ignore[attr-defined]
LEASE_S = 120.0
"""how long a claimed attempt is ours (a sender that died mid-send is retried after it)"""


@dataclass(frozen=True)
class Backoff:
    base_s: float = 5.0
    max_s: float = 300.0
    max_attempts: int = 200

    def delay(self, attempts: int) -> float:
        return float(min(self.base_s * 2 ** max(attempts - 1, 0), self.max_s))


class SmsSender:
    def __init__(self, engine: sa.Engine, gateway: Gateway, backoff: Backoff,
                 now: Callable[[], float] = time.time, batch: int = 50) -> None:  # fmt: skip
        self.engine = engine
        self.gateway = gateway
        self.backoff = backoff
        self.now = now
        self.batch = batch
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sms-sender", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(15)
        self.gateway.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.send_due()
                wait = self.next_due_in()
            except sa.exc.SQLAlchemyError as err:
                log.warning("sms sender: %s; retrying", err)
                wait = 1.0
            except Exception:  # the sender must outlive a bug in one round; the claimed lease retries the row
                log.exception("sms sender: round failed; retrying")
                wait = 5.0
            self._wake.wait(max(0.05, min(wait, 5.0)))
            self._wake.clear()

    def next_due_in(self) -> float:
        with self.engine.connect() as conn:
            due = conn.execute(
                sa.select(sa.func.min(SMS.c.next_attempt_at)).where(SMS.c.status == SmsStatus.QUEUED.value)
            ).scalar()
        return 5.0 if due is None else float(due) - self.now()

    def send_due(self) -> int:
        """Send every notice due now (one attempt each); return how many were delivered."""
        now = self.now()
        with Session(self.engine) as session:
            due = session.exec(
                select(SmsMessage)
                .where(SmsMessage.status == SmsStatus.QUEUED.value, col(SmsMessage.next_attempt_at) <= now)
                .order_by(col(SmsMessage.next_attempt_at), col(SmsMessage.id))
                .limit(self.batch)
            ).all()
            candidates = [(m.id, m.next_attempt_at) for m in due]
        delivered = 0
        for msg_id, due_at in candidates:
            if self._stop.is_set():
                break
            delivered += self._attempt(msg_id, due_at, now)
        return delivered

    def _attempt(self, row_id: int | None, due_at: float, now: float) -> int:
        with self.engine.begin() as conn:  # claim: only if nobody moved it since we read it
            claimed = conn.execute(
                sa.update(SMS)
                .where(
                    SMS.c.id == row_id,
                    SMS.c.next_attempt_at == due_at,
                    SMS.c.status == SmsStatus.QUEUED.value,
                )
                .values(next_attempt_at=now + LEASE_S, attempts=SMS.c.attempts + 1)
            ).rowcount
            if claimed != 1:
                return 0
            row = conn.execute(sa.select(SMS).where(SMS.c.id == row_id)).one()
        notice = Notice(row.msg_id, row.phone, row.text)
        values: dict[str, object]
        try:
            ref = self.gateway.send(notice)
        except TemporaryFailure as err:
            if row.attempts >= self.backoff.max_attempts:
                values = {"status": SmsStatus.FAILED.value, "last_error": f"{err} (gave up)"[:300]}
                log.error("SMS %s to %s failed after %d attempts: %s", row.kind, mask_phone(row.phone),
                          row.attempts, err)  # fmt: skip
            else:
                delay = self.backoff.delay(row.attempts)
                values = {"next_attempt_at": self.now() + delay, "last_error": str(err)[:300]}
                if not self._failing:
                    log.warning("SMS gateway failing (%s); notices retried with backoff", err)
                self._failing = True
        except PermanentFailure as err:
            values = {"status": SmsStatus.FAILED.value, "last_error": str(err)[:300]}
            log.error("SMS %s to %s refused: %s", row.kind, mask_phone(row.phone), err)
        else:
            values = {
                "status": SmsStatus.SENT.value,
                "sent_at": self.now(),
                "gateway_ref": ref[:64],
                "last_error": "",
            }
            if self._failing:
                log.info("SMS gateway delivering again")
            self._failing = False
            log.info("SMS %s to %s sent (attempt %d)", row.kind, mask_phone(row.phone), row.attempts)
        with self.engine.begin() as conn:
            conn.execute(sa.update(SMS).where(SMS.c.id == row_id).values(**values))
        return 1 if values.get("status") == SmsStatus.SENT.value else 0
