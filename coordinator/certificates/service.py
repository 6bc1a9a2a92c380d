"""Issuing certificates: the ``concluded`` listener, sealing, the registry, re-prints and public checks.

Flow: the case workflow fires ``concluded`` (outcome ``approved``) in its transaction → :meth:`on_case_event`
adds a ``pending`` registry row and a ``queued`` print at the case's window → after the commit the
:class:`~coordinator.certificates.worker.CertificateWorker` renders the template (with the window printer's
calibration offset for an overlay), seals it, stores the PDF in the blob store, marks the row ``valid`` and sends
the print command; the printer's ``print_job`` events move the print row along.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from coordinator.blobs.store import BlobStore
from coordinator.certificates.errors import CertificateError, PrintRefused
from coordinator.certificates.render import render, seal_box_pt
from coordinator.certificates.seal import SealMaterial, sign_pdf
from coordinator.certificates.seals import SealStore
from coordinator.certificates.templates import (
    DEFAULT_TEMPLATE,
    TEMPLATES,
    Template,
    case_values,
    get_template,
    valid_until,
)
from coordinator.certificates.verify import SignatureCheck, check_signature, trust_roots
from coordinator.models.certificate import (
    Certificate,
    CertificatePrint,
    CertificateStatus,
    PrinterCalibration,
    PrintStatus,
)
from workflow.cases import Case
from workflow.errors import NotFound

log = logging.getLogger(__name__)

APPROVED: Final = frozenset({"approved", "approve", "granted", "准予", "批准"})
"""``concluded`` outcomes that issue a certificate (``outcome``, ``result`` or ``decision`` of the event)."""


def is_approved(data: dict[str, Any]) -> bool:
    if data.get("approved") is True:
        return True
    return any(str(data.get(key, "")).lower() in APPROVED for key in ("outcome", "result", "decision"))


@dataclass(frozen=True)
class IssueJob:
    certificate_id: int
    number: str
    template: Template
    values: dict[str, str]
    offset: tuple[float, float]
    seal_id: int
    material: SealMaterial


@dataclass
class VerifyReport:
    valid: bool
    reasons: list[str]
    sha256: str
    signature: SignatureCheck
    certificate: Certificate | None = None
    timings: dict[str, float] = field(default_factory=dict)


class CertificateService:
    def __init__(self, engine: sa.Engine, blobs: BlobStore, seals: SealStore) -> None:
        self.engine = engine
        self.blobs = blobs
        self.seals = seals
        self.wake: Callable[[], None] = lambda: None
        """set by the worker: called after a commit that queued work"""
        self.timings: list[tuple[str, float, float]] = []
        """(number, render seconds, seal seconds) of the last certificates issued (for the docs' figures)"""

    # -- the case listener (in the case event's transaction: rows only) -----------------------------------

    def on_case_event(self, session: Session, case: Case, event_type: str, data: dict[str, Any]) -> None:
        if event_type != "concluded" or not is_approved(data):
            return
        assert case.id is not None
        template = get_template(str(data.get("template") or DEFAULT_TEMPLATE))
        now = time.time()
        n = session.exec(select(func.count()).where(Certificate.case_id == case.id)).one()
        cert = Certificate(
            number=f"{case.code}-Z{n + 1:02d}",
            case_id=case.id,
            template=template.key,
            holder=case.applicant_name,
            holder_id_number=case.applicant_id_number,
            item=str(data.get("item") or case.title)[:200],
            issuer=self.seals.issuer_name(session, case.department_id, case.unit_id)[:64],
            valid_from=now,
            valid_until=valid_until(template, now),
            created_at=now,
        )
        session.add(cert)
        session.flush()
        assert cert.id is not None
        session.add(
            CertificatePrint(
                certificate_id=cert.id, window_id=case.window_id, requested_by="case",
                created_at=now, updated_at=now,
            )
        )  # fmt: skip
        sa.event.listen(session, "after_commit", lambda _s: self.wake(), once=True)
        log.info("certificate %s queued for case %s (%s)", cert.number, case.code, template.key)

    # -- issuing (worker) ---------------------------------------------------------------------------------

    def prepare(self, session: Session, cert: Certificate, printer: tuple[str, str] | None) -> IssueJob:
        """Everything sealing ``cert`` needs (the issuer's seal made if missing); the caller commits.

        Rendering, signing and storing happen outside any transaction (:meth:`seal`, then :meth:`record`):
        SQLite allows one writer, and the blob store writes its row on a connection of its own."""
        case = session.get(Case, cert.case_id)
        if case is None or cert.id is None:
            raise CertificateError(f"case {cert.case_id} is gone")
        template = get_template(cert.template)
        offset = (0.0, 0.0)
        if printer is not None and template.mode == "overlay":
            cal = session.get(PrinterCalibration, printer)
            if cal is not None:
                offset = (cal.offset_x_mm, cal.offset_y_mm)
        seal = self.seals.ensure(session, case.department_id, case.unit_id)
        assert seal.id is not None
        values = case_values(
            number=cert.number, holder=cert.holder, holder_id_number=cert.holder_id_number, item=cert.item,
            issuer=cert.issuer, case_code=case.code, valid_from=cert.valid_from, valid_until_ts=cert.valid_until,
        )  # fmt: skip
        return IssueJob(cert.id, cert.number, template, values, offset, seal.id, self.seals.material(seal))

    def seal(self, job: IssueJob) -> str:
        """Render and seal; store the PDF; return its sha256."""
        t0 = time.perf_counter()
        pdf = render(job.template, job.values, job.offset)
        t1 = time.perf_counter()
        sealed = sign_pdf(pdf, job.material, seal_box_pt(job.template, job.offset))
        t2 = time.perf_counter()
        self.timings = [*self.timings[-99:], (job.number, t1 - t0, t2 - t1)]
        log.info("certificate %s sealed by %s (render %.0f ms, seal %.0f ms)", job.number, job.material.name,
                 (t1 - t0) * 1000, (t2 - t1) * 1000)  # fmt: skip
        return self.blobs.put_bytes(sealed, "application/pdf")

    @staticmethod
    def record(session: Session, job: IssueJob, sha256: str) -> None:
        """The registry row becomes valid (an earlier valid certificate of the case is replaced)."""
        cert = session.get(Certificate, job.certificate_id)
        if cert is None:
            raise CertificateError(f"certificate {job.number} is gone")
        cert.sha256, cert.seal_id = sha256, job.seal_id
        cert.offset_x_mm, cert.offset_y_mm = job.offset
        cert.status, cert.issued_at = CertificateStatus.VALID.value, time.time()
        for old in session.exec(
            select(Certificate).where(
                Certificate.case_id == cert.case_id,
                Certificate.status == CertificateStatus.VALID.value,
                Certificate.id != cert.id,
            )
        ):
            old.status, old.reason = CertificateStatus.REPLACED.value, f"由 {cert.number} 替换"
            session.add(old)
        session.add(cert)

    # -- registry -----------------------------------------------------------------------------------------

    @staticmethod
    def by_number(session: Session, number: str) -> Certificate:
        cert = session.exec(select(Certificate).where(Certificate.number == number)).first()
        if cert is None:
            raise NotFound(f"证照 {number} 不存在")
        return cert

    @staticmethod
    def prints(session: Session, cert: Certificate) -> list[CertificatePrint]:
        query = select(CertificatePrint).where(CertificatePrint.certificate_id == cert.id)
        return list(session.exec(query.order_by(col(CertificatePrint.id))))

    def revoke(self, session: Session, number: str, reason: str) -> Certificate:
        cert = self.by_number(session, number)
        cert.status, cert.reason, cert.revoked_at = CertificateStatus.REVOKED.value, reason[:200], time.time()
        session.add(cert)
        session.commit()
        session.refresh(cert)
        log.info("certificate %s revoked: %s", number, reason)
        return cert

    def reprint(self, session: Session, number: str, requested_by: str) -> CertificatePrint:
        """A new print of a certificate whose last print failed (logged as a re-print)."""
        cert = self.by_number(session, number)
        if cert.status != CertificateStatus.VALID.value:
            raise PrintRefused(f"证照 {number} 状态为 {cert.status}，不能打印")
        prints = self.prints(session, cert)
        last = prints[-1] if prints else None
        if last is not None and last.status != PrintStatus.FAILED.value:
            raise PrintRefused(f"证照 {number} 的上一次打印状态为 {last.status}：只有失败的打印可以重打")
        case = session.get(Case, cert.case_id)
        now = time.time()
        row = CertificatePrint(
            certificate_id=cert.id or 0, window_id=case.window_id if case is not None else None,
            reprint_of=last.id if last is not None else None, requested_by=requested_by[:64],
            created_at=now, updated_at=now,
        )  # fmt: skip
        session.add(row)
        session.commit()
        session.refresh(row)
        log.info("certificate %s: re-print of print %s requested by %s", number, row.reprint_of, requested_by)
        self.wake()
        return row

    @staticmethod
    def set_calibration(
        session: Session, agent_id: str, device_id: str, dx: float, dy: float
    ) -> PrinterCalibration:
        cal = session.get(PrinterCalibration, (agent_id, device_id)) or PrinterCalibration(
            agent_id=agent_id, device_id=device_id, offset_x_mm=0, offset_y_mm=0, updated_at=0
        )
        cal.offset_x_mm, cal.offset_y_mm, cal.updated_at = dx, dy, time.time()
        session.add(cal)
        session.commit()
        session.refresh(cal)
        log.info("printer %s/%s calibrated: offset %+.1f, %+.1f mm", agent_id, device_id, dx, dy)
        return cal

    # -- public check -------------------------------------------------------------------------------------

    def verify(self, session: Session, data: bytes) -> VerifyReport:
        """Is ``data`` a certificate this platform issued, unchanged, and still valid?"""
        sha256 = hashlib.sha256(data).hexdigest()
        t0 = time.perf_counter()
        check = check_signature(data, trust_roots(self.seals.trust_roots_pem(session)))
        timings = {"signature_s": time.perf_counter() - t0}
        reasons = list(check.reasons)
        cert = session.exec(select(Certificate).where(Certificate.sha256 == sha256)).first()
        if cert is None:
            reasons.append("证照登记簿中没有这个文件（文件不是本平台签发的原件，或已被改动）")
        elif cert.status != CertificateStatus.VALID.value:
            reasons.append(f"证照 {cert.number} 已{_STATUS_ZH.get(cert.status, cert.status)}")
        elif cert.valid_until is not None and cert.valid_until < time.time():
            reasons.append(f"证照 {cert.number} 已过有效期")
        valid = check.ok and not reasons
        return VerifyReport(valid, reasons, sha256, check, cert, timings)


_STATUS_ZH: Final = {"revoked": "注销", "replaced": "被替换", "pending": "尚未签发", "failed": "签发失败"}
TEMPLATE_KEYS: Final = tuple(sorted(TEMPLATES))
