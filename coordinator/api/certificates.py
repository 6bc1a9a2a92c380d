"""``/api/v1/certificates``, ``/api/v1/seals``, printer calibration (API token), and the public check
``/api/v1/public/certificates`` (no sign-in) behind the verify page at ``/verify/``."""

from __future__ import annotations

from typing import Annotated, Final

import anyio.to_thread
from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, status
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from coordinator.api.deps import Authenticated, CoordinatorDep, SessionDep
from coordinator.certificates.errors import CertificateError, PrintRefused
from coordinator.certificates.render import calibration_sheet
from coordinator.certificates.runner import Certificates
from coordinator.certificates.templates import get_template
from coordinator.models.certificate import (
    CalibrationBody,
    Certificate,
    CertificateLookup,
    CertificatePublic,
    PrintPublic,
    Seal,
    SealPublic,
)
from workflow.errors import NotFound

MAX_UPLOAD: Final = 20 * 1024 * 1024

router = APIRouter(prefix="/api/v1", tags=["certificates"], dependencies=[Authenticated])
public = APIRouter(prefix="/api/v1/public/certificates", tags=["public"])


def _certificates(coordinator: CoordinatorDep) -> Certificates:
    if coordinator.certificates is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "coordinator is starting")
    return coordinator.certificates


CertificatesDep = Annotated[Certificates, Depends(_certificates)]


class CertificateDetail(CertificatePublic):
    prints: list[PrintPublic]


class RevokeBody(BaseModel):
    reason: str = Field(min_length=1, max_length=200)


class ReprintBody(BaseModel):
    requested_by: str = Field("api", min_length=1, max_length=64)


class VerifyResult(BaseModel):
    valid: bool
    reasons: list[str]
    sha256: str
    intact: bool
    trusted: bool
    signer: str
    signed_at: float | None
    certificate: CertificateLookup | None


def _get(svc: Certificates, session: Session, number: str) -> Certificate:
    try:
        return svc.service.by_number(session, number)
    except NotFound as err:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(err)) from err


def _detail(svc: Certificates, session: Session, cert: Certificate) -> CertificateDetail:
    prints = [PrintPublic.model_validate(p, from_attributes=True) for p in svc.service.prints(session, cert)]
    return CertificateDetail.model_validate({**cert.model_dump(), "prints": prints})


@router.get("/certificates")
def list_certificates(
    session: SessionDep, case_id: int | None = None, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[CertificatePublic]:
    query = select(Certificate).order_by(col(Certificate.id).desc()).limit(limit)
    if case_id is not None:
        query = query.where(Certificate.case_id == case_id)
    return [CertificatePublic.model_validate(c, from_attributes=True) for c in session.exec(query)]


@router.get("/certificates/{number}")
def get_certificate(number: str, session: SessionDep, svc: CertificatesDep) -> CertificateDetail:
    return _detail(svc, session, _get(svc, session, number))


@router.get("/certificates/{number}/pdf", response_class=FileResponse)
def certificate_pdf(
    number: str, session: SessionDep, svc: CertificatesDep, coordinator: CoordinatorDep
) -> FileResponse:
    cert = _get(svc, session, number)
    if cert.sha256 is None:
        raise HTTPException(status.HTTP_409_CONFLICT, f"证照 {number} 尚未签发（{cert.status}）")
    return FileResponse(
        coordinator.blobs.path(cert.sha256), media_type="application/pdf", filename=f"{number}.pdf"
    )


@router.post("/certificates/{number}/reprint", status_code=status.HTTP_202_ACCEPTED)
def reprint(number: str, body: ReprintBody, session: SessionDep, svc: CertificatesDep) -> PrintPublic:
    """Print again after a failed print (recorded as a re-print of it)."""
    try:
        row = svc.service.reprint(session, number, body.requested_by)
    except NotFound as err:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(err)) from err
    except PrintRefused as err:
        raise HTTPException(status.HTTP_409_CONFLICT, str(err)) from err
    return PrintPublic.model_validate(row, from_attributes=True)


@router.post("/certificates/{number}/revoke")
def revoke(number: str, body: RevokeBody, session: SessionDep, svc: CertificatesDep) -> CertificatePublic:
    try:
        cert = svc.service.revoke(session, number, body.reason)
    except NotFound as err:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(err)) from err
    return CertificatePublic.model_validate(cert, from_attributes=True)


@router.get("/certificate-templates/{key}/calibration-sheet", response_class=Response)
def calibration_sheet_pdf(key: str) -> Response:
    """Print this on the form paper, measure how far the crosses moved, store the negative as the offset."""
    try:
        template = get_template(key)
    except CertificateError as err:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(err)) from err
    return Response(calibration_sheet(template), media_type="application/pdf")


@router.put("/printers/{agent_id}/{device_id}/calibration")
def set_calibration(
    agent_id: str, device_id: str, body: CalibrationBody, session: SessionDep, svc: CertificatesDep
) -> CalibrationBody:
    cal = svc.service.set_calibration(session, agent_id, device_id, body.offset_x_mm, body.offset_y_mm)
    return CalibrationBody(offset_x_mm=cal.offset_x_mm, offset_y_mm=cal.offset_y_mm)


@router.get("/seals")
def list_seals(session: SessionDep) -> list[SealPublic]:
    return [SealPublic.model_validate(s, from_attributes=True) for s in session.exec(select(Seal))]


@router.post("/seals/import", status_code=status.HTTP_201_CREATED)
async def import_seal(
    request: Request,
    svc: CertificatesDep,
    coordinator: CoordinatorDep,
    department_id: int | None = None,
    unit_id: int | None = None,
    x_pkcs12_password: Annotated[str | None, Header()] = None,
) -> SealPublic:
    """The body is a PKCS#12 file; it becomes the active seal of the department (or unit)."""
    if (department_id is None) == (unit_id is None):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "give department_id or unit_id")
    data = await _body(request)
    password = x_pkcs12_password.encode() if x_pkcs12_password else None
    with Session(coordinator.engine) as session:
        try:
            seal = svc.seals.import_p12(session, department_id, unit_id, data, password)
        except CertificateError as err:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(err)) from err
        return SealPublic.model_validate(seal, from_attributes=True)


async def _body(request: Request) -> bytes:
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_UPLOAD:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"at most {MAX_UPLOAD} bytes")
    if not data:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "empty body")
    return bytes(data)


# -- public ----------------------------------------------------------------------------------------------


def mask_name(name: str) -> str:
    """李四 → 李*, 欧阳娜娜 → 欧***: enough to recognise, not to harvest."""
    return name[:1] + "*" * max(len(name) - 1, 1) if name else ""


def lookup(cert: Certificate) -> CertificateLookup:
    data = cert.model_dump()
    data["holder"] = mask_name(cert.holder)
    return CertificateLookup.model_validate(data)


@public.get("/{number}")
def public_lookup(number: str, session: SessionDep, svc: CertificatesDep) -> CertificateLookup:
    """Anyone: is there a certificate with this number, and is it valid?"""
    return lookup(_get(svc, session, number))


@public.post("/verify")
async def public_verify(request: Request, svc: CertificatesDep, coordinator: CoordinatorDep) -> VerifyResult:
    """Anyone: the body is a certificate PDF; is it intact, sealed by this platform, and registered valid?"""
    data = await _body(request)

    def check() -> VerifyResult:
        with Session(coordinator.engine) as session:
            report = svc.service.verify(session, data)
            return VerifyResult(
                valid=report.valid,
                reasons=report.reasons,
                sha256=report.sha256,
                intact=report.signature.intact,
                trusted=report.signature.trusted,
                signer=report.signature.signer,
                signed_at=report.signature.signed_at,
                certificate=lookup(report.certificate) if report.certificate is not None else None,
            )

    return await anyio.to_thread.run_sync(check)
