"""``/api/v1/cases``: open a case at a window, capture into it from the window's devices, print, read its
materials. Staff sign-in; every id goes through the person's scope (a case outside it is a 404)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse
from pydantic import JsonValue, ValidationError
from sqlmodel import col, select

from coordinator.api.deps import CoordinatorDep, SessionDep
from coordinator.api.principal import PrincipalDep
from coordinator.cases.service import CaseService, OpenCase, close_case, focus_case, get_case, open_case
from coordinator.models.case import (
    CaptureStart,
    CaseCreate,
    CasePublic,
    DeviceCommandStarted,
    MaterialPublic,
    PrintStart,
    ScanOptions,
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
def submit_case(
    body: CaseCreate, principal: PrincipalDep, session: SessionDep, coordinator: CoordinatorDep
) -> CasePublic:
    """Open (submit) a case at a window — it becomes the window's current case — or online (no window)."""
    case = open_case(session, principal.scope, coordinator.case_hooks, OpenCase(**body.model_dump()))
    return _public(case, [])


@router.get("/cases/{case_id}")
def read_case(case_id: int, principal: PrincipalDep, session: SessionDep) -> CasePublic:
    case = get_case(session, principal.scope, case_id)
    materials = session.exec(select(Material).where(Material.case_id == case.id).order_by(col(Material.id)))
    return _public(case, list(materials))


@router.post("/cases/{case_id}/current")
def make_current(case_id: int, principal: PrincipalDep, session: SessionDep) -> CasePublic:
    """Make this case the one in front of the clerk: device-initiated captures land in it."""
    return _public(focus_case(session, principal.scope, case_id))


@router.post("/cases/{case_id}/close")
def take_off_counter(case_id: int, principal: PrincipalDep, session: SessionDep) -> CasePublic:
    """No more captures into this case at the counter (its workflow goes on)."""
    return _public(close_case(session, principal.scope, case_id))


@router.post("/cases/{case_id}/captures", status_code=status.HTTP_202_ACCEPTED)
def start_capture(
    case_id: int,
    body: CaptureStart,
    principal: PrincipalDep,
    session: SessionDep,
    coordinator: CoordinatorDep,
) -> DeviceCommandStarted:
    """Scan / photograph / sign on the case's window; the material appears in the case when it lands.

    A scanner's ``args`` are checked here (:class:`ScanOptions`: source, resolution, mode, pages): a bad value is a
    422 naming ``body.args.<field>``, and only the options given go to the driver (the rest are its defaults)."""
    args = _scan_args(body.args) if body.device_kind == "scanner" else body.args
    agent_id, device, cmd_id = _service(coordinator).capture(
        session, principal.scope, case_id, body.device_kind, body.device, args
    )
    return DeviceCommandStarted(agent_id=agent_id, device=device, cmd_id=cmd_id)


def _scan_args(args: dict[str, JsonValue]) -> dict[str, JsonValue]:
    try:
        options = ScanOptions.model_validate(args)
    except ValidationError as err:
        raise RequestValidationError(
            [{"type": e["type"], "loc": ("body", "args", *e["loc"]), "msg": e["msg"], "input": e["input"]}
             for e in err.errors(include_url=False)]
        ) from err  # fmt: skip
    return options.model_dump(exclude_none=True)


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
