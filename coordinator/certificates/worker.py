"""The certificate worker: after the commit, seal pending certificates and send queued prints; follow the
print commands and the printers' ``print_job`` events (stored by ingest in ``event``) by ``cmd_id``.

One thread; it wakes when a listener's transaction commits (or a re-print is asked for) and otherwise looks
every ``poll_s`` while prints are open. Print states: queued → sent → pending → processing → completed, or
failed (command failed/expired/refused, job aborted/canceled, no printer at the window).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Any, Final

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from coordinator.cases.service import CaseService
from coordinator.certificates.errors import CertificateError
from coordinator.certificates.service import CertificateService
from coordinator.errors import CommandError
from coordinator.models.certificate import (
    PRINT_FINISHED,
    Certificate,
    CertificatePrint,
    CertificateStatus,
    PrintStatus,
)
from coordinator.models.command import CommandRow, CommandStatus
from coordinator.models.event import Event
from coordinator.state import LiveState
from workflow.errors import WorkflowError
from workflow.org import Window

log = logging.getLogger(__name__)

JOB_STATES: Final = {
    "pending": PrintStatus.PENDING, "pending-held": PrintStatus.PENDING,
    "processing": PrintStatus.PROCESSING, "processing-stopped": PrintStatus.PROCESSING,
    "completed": PrintStatus.COMPLETED, "aborted": PrintStatus.FAILED, "canceled": PrintStatus.FAILED,
}  # fmt: skip
COMMAND_FAILED: Final = (
    CommandStatus.FAILED.value,
    CommandStatus.EXPIRED.value,
    CommandStatus.REJECTED.value,
)
IDLE_S: Final = 5.0


class CertificateWorker:
    def __init__(self, engine: sa.Engine, service: CertificateService, cases: CaseService, live: LiveState,
                 poll_s: float = 0.5) -> None:  # fmt: skip
        self.engine = engine
        self.service = service
        self.cases = cases
        self.live = live
        self.poll_s = poll_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._cursor = 0
        service.wake = self._wake.set

    def start(self) -> None:
        with Session(self.engine) as session:
            self._cursor = self._initial_cursor(session)
        self._thread = threading.Thread(target=self._run, name="certificates", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.step()
            except (sa.exc.SQLAlchemyError, OSError) as err:
                log.warning("certificate worker: %s; retrying", err)
                busy = True
            except Exception:  # the worker must outlive a bug in one round; the next round retries
                log.exception("certificate worker: round failed; retrying")
                busy = True
            self._wake.wait(self.poll_s if busy else IDLE_S)
            self._wake.clear()

    def step(self) -> bool:
        """One round: issue, send, follow. Returns whether prints are still open."""
        self._issue_pending()
        with Session(self.engine) as session:
            self._send_queued(session)
            self._follow(session)
            open_prints = session.exec(
                select(func.count()).where(col(CertificatePrint.status).not_in(PRINT_FINISHED))
            ).one()
        return open_prints > 0

    # -- issue --------------------------------------------------------------------------------------------

    def _issue_pending(self) -> None:
        with Session(self.engine) as session:
            pending = session.exec(
                select(Certificate.id).where(Certificate.status == CertificateStatus.PENDING.value).limit(20)
            ).all()
        for cert_id in pending:
            try:
                with Session(self.engine) as session:
                    cert = session.get(Certificate, cert_id)
                    if cert is None or cert.status != CertificateStatus.PENDING.value:
                        continue
                    first = session.exec(
                        select(CertificatePrint).where(CertificatePrint.certificate_id == cert_id).limit(1)
                    ).first()
                    printer = self._resolve_printer(session, first) if first is not None else None
                    job = self.service.prepare(session, cert, printer)
                    session.commit()
                sha256 = self.service.seal(job)
                with Session(self.engine) as session:
                    self.service.record(session, job, sha256)
                    session.commit()
            except CertificateError as err:
                self._failed(cert_id, err)

    def _failed(self, cert_id: int | None, err: CertificateError) -> None:
        with Session(self.engine) as session:
            cert = session.get(Certificate, cert_id)
            if cert is None:
                return
            log.error("certificate %s not issued: %s", cert.number, err)
            cert.status, cert.reason = CertificateStatus.FAILED.value, str(err)[:200]
            session.add(cert)
            for p in session.exec(select(CertificatePrint).where(CertificatePrint.certificate_id == cert_id)):
                _set(p, PrintStatus.FAILED, error=f"证照未签发：{err}")
                session.add(p)
            session.commit()

    def _resolve_printer(self, session: Session, row: CertificatePrint) -> tuple[str, str] | None:
        """The window's agent and its printer (recorded on the row); None when the window has none."""
        if row.agent_id is not None and row.device_id is not None:
            return row.agent_id, row.device_id
        window = session.get(Window, row.window_id) if row.window_id is not None else None
        if window is None or window.agent_id is None:
            return None
        agent = self.live.get(window.agent_id)
        printers = sorted(d.device_id for d in agent.devices.values() if d.kind == "printer") if agent else []
        if not printers:
            return None
        row.agent_id, row.device_id = window.agent_id, printers[0]
        session.add(row)
        return row.agent_id, row.device_id

    # -- send ---------------------------------------------------------------------------------------------

    def _send_queued(self, session: Session) -> None:
        queued = session.exec(
            select(CertificatePrint, Certificate)
            .join(Certificate, col(Certificate.id) == CertificatePrint.certificate_id)
            .where(
                CertificatePrint.status == PrintStatus.QUEUED.value,
                Certificate.status == CertificateStatus.VALID.value,
            )
        ).all()
        for row, cert in queued:
            printer = self._resolve_printer(session, row)
            if printer is None or cert.sha256 is None:
                _set(row, PrintStatus.FAILED, error="办件所在窗口没有可用的打印机")
                session.add(row)
                session.commit()
                continue
            try:  # print_blob commits (the grant, and the printer recorded on this row)
                cmd_id = self.cases.print_blob(session, printer[0], printer[1], cert.sha256, cert.case_id, 1,
                                               "application/pdf")  # fmt: skip
            except (CommandError, WorkflowError) as err:
                session.rollback()
                _set(row, PrintStatus.FAILED, error=str(err))
                session.add(row)
                session.commit()
                continue
            _set(row, PrintStatus.SENT, cmd_id=str(cmd_id))
            session.add(row)
            session.commit()
            kind = "re-print" if row.reprint_of is not None else "print"
            log.info("certificate %s: %s %s sent to %s/%s", cert.number, kind, cmd_id, *printer)

    # -- follow -------------------------------------------------------------------------------------------

    def _follow(self, session: Session) -> None:
        open_rows = {
            r.cmd_id: r
            for r in session.exec(
                select(CertificatePrint).where(
                    col(CertificatePrint.status).not_in(PRINT_FINISHED),
                    col(CertificatePrint.cmd_id).is_not(None),
                )
            )
        }
        events = session.exec(
            select(Event)
            .where(Event.type == "print_job", col(Event.id) > self._cursor)
            .order_by(col(Event.id))
        ).all()
        for ev in events:
            self._cursor = max(self._cursor, ev.id or 0)
            row = open_rows.get(str(ev.data.get("cmd_id")))
            if row is not None and row.status not in PRINT_FINISHED:
                self._apply_job(row, ev.data)
                session.add(row)
        for cmd_id, row in open_rows.items():
            if row.status in PRINT_FINISHED or cmd_id is None:
                continue
            cmd = session.get(CommandRow, uuid.UUID(cmd_id))
            if cmd is not None and cmd.status in COMMAND_FAILED:
                _set(row, PrintStatus.FAILED, error=f"打印命令{cmd.status}：{cmd.error or ''}"[:512])
                session.add(row)
        session.commit()

    @staticmethod
    def _apply_job(row: CertificatePrint, data: dict[str, Any]) -> None:
        state = str(data.get("state", ""))
        status = JOB_STATES.get(state)
        if status is None:
            return
        job_id = data.get("job_id")
        error = ""
        if status == PrintStatus.FAILED:
            error = (
                f"打印作业{state}：{', '.join(map(str, data.get('reasons') or []))} {data.get('message', '')}"
            )
        _set(
            row,
            status,
            job_id=job_id if isinstance(job_id, int) else row.job_id,
            job_state=state,
            error=error,
        )
        log.info("print %s (cmd %s): job %s %s", row.id, row.cmd_id, row.job_id, state)

    @staticmethod
    @staticmethod
    def _initial_cursor(session: Session) -> int:
        """Follow events from those that may concern the oldest open print (all of them after a restart)."""
        last = session.exec(select(func.coalesce(func.max(Event.id), 0))).one() or 0
        oldest = session.exec(
            select(func.min(CertificatePrint.created_at)).where(
                col(CertificatePrint.status).not_in(PRINT_FINISHED)
            )
        ).one()
        if oldest is None:
            return last
        first = session.exec(select(func.min(Event.id)).where(Event.received_at >= oldest - 60)).one()
        return first - 1 if first is not None else last


def _set(row: CertificatePrint, status: PrintStatus, **changes: Any) -> None:
    row.status = status.value
    row.updated_at = time.time()
    for key, value in changes.items():
        setattr(row, key, value)
