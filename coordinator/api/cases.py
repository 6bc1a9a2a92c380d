"""``/api/v1/cases``: open a case at a window, capture into it from the window's devices, print, read its
materials. Staff sign-in; every id goes through the person's scope (a case outside it is a 404)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import FileResponse

from coordinator.api.deps import CoordinatorDep, SessionDep
from coordinator.api.principal import PrincipalDep
from coordinator.cases.service import CaseService
from coordinator.models.case import (
    CaptureStart,
    CaseCreate,
    CasePublic,
    DeviceCommandStarted,
    MaterialPublic,
    PrintStart,
)
from workflow.cases import Case, Material

router = APIRouter(prefix="/api/v1", tags=["cases"])


def _service(coordinator: CoordinatorDep) -> CaseService:
    if coordinator.cases is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "coordinator is starting")
    return coordinator.cases


def _public(case: Case, materials: list[Material] | None = None) -> CasePublic:
    out = CasePublic.model_validate(case, from_attributes=True)
    if materials is not None:
        out.materials = [MaterialPublic.model_validate(m, from_attributes=True) for m in materials]
    return out


@router.post("/cases", status_code=status.HTTP_201_CREATED)
def open_case(
    body: CaseCreate, principal: PrincipalDep, session: SessionDep, coordinator: CoordinatorDep
) -> CasePublic:
    """Open a case at a window; it becomes the window's current case."""
    case = _service(coordinator).open(
        session, principal.scope, body.window_id, body.title, body.applicant_name, body.applicant_id_number
    )
    return _public(case, [])


@router.get("/cases/{case_id}")
def get_case(
    case_id: int, principal: PrincipalDep, session: SessionDep, coordinator: CoordinatorDep
) -> CasePublic:
    svc = _service(coordinator)
    case = svc.get(session, principal.scope, case_id)
    return _public(case, svc.materials(session, principal.scope, case_id))


@router.post("/cases/{case_id}/current")
def focus_case(
    case_id: int, principal: PrincipalDep, session: SessionDep, coordinator: CoordinatorDep
) -> CasePublic:
    """Make this case the one in front of the clerk: device-initiated captures land in it."""
    return _public(_service(coordinator).focus(session, principal.scope, case_id))


@router.post("/cases/{case_id}/close")
def close_case(
    case_id: int, principal: PrincipalDep, session: SessionDep, coordinator: CoordinatorDep
) -> CasePublic:
    return _public(_service(coordinator).close(session, principal.scope, case_id))


@router.post("/cases/{case_id}/captures", status_code=status.HTTP_202_ACCEPTED)
def start_capture(
    case_id: int,
    body: CaptureStart,
    principal: PrincipalDep,
    session: SessionDep,
    coordinator: CoordinatorDep,
) -> DeviceCommandStarted:
    """Scan / photograph / sign on the case's window; the material appears in the case when it lands."""
    agent_id, device, cmd_id = _service(coordinator).capture(
        session, principal.scope, case_id, body.device_kind, body.device, body.args
    )
    return DeviceCommandStarted(agent_id=agent_id, device=device, cmd_id=cmd_id)


@router.post("/cases/{case_id}/print", status_code=status.HTTP_202_ACCEPTED)
def print_material(
    case_id: int, body: PrintStart, principal: PrincipalDep, session: SessionDep, coordinator: CoordinatorDep
) -> DeviceCommandStarted:
    agent_id, device, cmd_id = _service(coordinator).print_material(
        session, principal.scope, case_id, body.material_id, body.device, body.copies
    )
    return DeviceCommandStarted(agent_id=agent_id, device=device, cmd_id=cmd_id)


@router.get("/cases/{case_id}/materials/{material_id}/content", response_class=FileResponse)
def material_content(
    case_id: int, material_id: int, principal: PrincipalDep, session: SessionDep,
    coordinator: CoordinatorDep,
) -> FileResponse:  # fmt: skip
    """The material's file — personal data, so only within the person's scope."""
    m = _service(coordinator).material(session, principal.scope, case_id, material_id)
    return FileResponse(
        coordinator.blobs.path(m.sha256),
        media_type=m.media_type,
        headers={"Cache-Control": "private, no-store"},
    )


@router.get("/windows/{window_id}/unfiled")
def unfiled(
    window_id: int, principal: PrincipalDep, session: SessionDep, coordinator: CoordinatorDep
) -> list[MaterialPublic]:
    """Captures made at the window while no case was open there."""
    return [
        MaterialPublic.model_validate(m, from_attributes=True)
        for m in _service(coordinator).unfiled(session, principal.scope, window_id)
    ]


@router.post("/cases/{case_id}/materials/{material_id}/file")
def file_material(
    case_id: int, material_id: int, principal: PrincipalDep, session: SessionDep, coordinator: CoordinatorDep
) -> MaterialPublic:
    """File an unfiled capture of the case's window into the case."""
    m = _service(coordinator).file_unfiled(session, principal.scope, case_id, material_id)
    return MaterialPublic.model_validate(m, from_attributes=True)
