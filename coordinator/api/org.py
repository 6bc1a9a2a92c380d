"""``/api/v1/org``: units, departments, halls and windows — read within scope, changed by center admins.

Technicians (and center admins) bind a window to the agent of its counter PC. ``POST /import`` takes the lower
levels (townships, villages, their departments, halls and windows) as a workbook or a CSV of units.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, status
from fastapi.responses import JSONResponse
from sqlmodel import col, select

from coordinator.api.deps import SessionDep
from coordinator.api.principal import PrincipalDep
from coordinator.models.catalog import ImportIssue
from coordinator.models.organisation import (
    DepartmentCreate,
    DepartmentPublic,
    HallCreate,
    HallPublic,
    ImportCounts,
    OrgImportReport,
    UnitCreate,
    UnitPublic,
    WindowBind,
    WindowCreate,
    WindowPublic,
)
from workflow import org_import
from workflow.codes import Level
from workflow.errors import Conflict, InvalidInput
from workflow.org import Department, Hall, OrgUnit, Window, add_unit
from workflow.scope import Action

router = APIRouter(prefix="/api/v1/org", tags=["organisation"])
CREATED = status.HTTP_201_CREATED
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_IMPORT_BYTES = 20 * 1024 * 1024
_KINDS = {
    "units": org_import.UNITS, "departments": org_import.DEPARTMENTS, "halls": org_import.HALLS,
    "windows": org_import.WINDOWS,
}  # fmt: skip


@router.get("/units")
def list_units(
    principal: PrincipalDep,
    session: SessionDep,
    parent_id: Annotated[int | None, Query(description="only the direct children of this unit")] = None,
) -> list[UnitPublic]:
    scope = principal.scope
    scope.require(Action.ORG_READ)
    stmt = scope.select(OrgUnit).order_by(col(OrgUnit.code))
    if parent_id is not None:
        stmt = stmt.where(OrgUnit.parent_id == parent_id)
    return [UnitPublic.model_validate(u, from_attributes=True) for u in session.exec(stmt)]


@router.get("/units/{unit_id}")
def get_unit(unit_id: int, principal: PrincipalDep, session: SessionDep) -> UnitPublic:
    principal.scope.require(Action.ORG_READ)
    return UnitPublic.model_validate(principal.scope.get(session, OrgUnit, unit_id), from_attributes=True)


@router.post("/units", status_code=CREATED)
def create_unit(body: UnitCreate, principal: PrincipalDep, session: SessionDep) -> UnitPublic:
    principal.scope.require(Action.ORG_WRITE)
    parent = principal.scope.get(session, OrgUnit, body.parent_id)
    unit = add_unit(session, body.code, body.name, Level(parent.level + 1), parent)
    session.commit()
    return UnitPublic.model_validate(unit, from_attributes=True)


@router.get("/departments")
def list_departments(
    principal: PrincipalDep, session: SessionDep, unit_id: int | None = None
) -> list[DepartmentPublic]:
    principal.scope.require(Action.ORG_READ)
    stmt = principal.scope.select(Department).order_by(col(Department.unit_id), col(Department.code))
    if unit_id is not None:
        stmt = stmt.where(Department.unit_id == unit_id)
    return [DepartmentPublic.model_validate(d, from_attributes=True) for d in session.exec(stmt)]


@router.get("/departments/{department_id}")
def get_department(department_id: int, principal: PrincipalDep, session: SessionDep) -> DepartmentPublic:
    principal.scope.require(Action.ORG_READ)
    dept = principal.scope.get(session, Department, department_id)
    return DepartmentPublic.model_validate(dept, from_attributes=True)


@router.post("/departments", status_code=CREATED)
def create_department(
    body: DepartmentCreate, principal: PrincipalDep, session: SessionDep
) -> DepartmentPublic:
    principal.scope.require(Action.ORG_WRITE)
    principal.scope.get(session, OrgUnit, body.unit_id)
    taken = select(Department.id).where(Department.unit_id == body.unit_id, Department.code == body.code)
    if session.exec(taken).first() is not None:
        raise Conflict(f"部门编码 {body.code} 在该单位已存在")
    dept = Department(unit_id=body.unit_id, code=body.code, name=body.name)
    session.add(dept)
    session.commit()
    return DepartmentPublic.model_validate(dept, from_attributes=True)


@router.get("/halls/{hall_id}")
def get_hall(hall_id: int, principal: PrincipalDep, session: SessionDep) -> HallPublic:
    principal.scope.require(Action.ORG_READ)
    return HallPublic.model_validate(principal.scope.get(session, Hall, hall_id), from_attributes=True)


@router.post("/halls", status_code=CREATED)
def create_hall(body: HallCreate, principal: PrincipalDep, session: SessionDep) -> HallPublic:
    principal.scope.require(Action.ORG_WRITE)
    principal.scope.get(session, OrgUnit, body.unit_id)
    hall = Hall(unit_id=body.unit_id, name=body.name)
    session.add(hall)
    session.commit()
    return HallPublic.model_validate(hall, from_attributes=True)


@router.get("/windows/{window_id}")
def get_window(window_id: int, principal: PrincipalDep, session: SessionDep) -> WindowPublic:
    principal.scope.require(Action.ORG_READ)
    return WindowPublic.model_validate(principal.scope.get(session, Window, window_id), from_attributes=True)


@router.post("/windows", status_code=CREATED)
def create_window(body: WindowCreate, principal: PrincipalDep, session: SessionDep) -> WindowPublic:
    principal.scope.require(Action.ORG_WRITE)
    hall = principal.scope.get(session, Hall, body.hall_id)
    if body.department_id is not None:
        principal.scope.check_place(session, hall.unit_id, body.department_id)
    taken = select(Window.id).where(Window.hall_id == hall.id, Window.number == body.number)
    if session.exec(taken).first() is not None:
        raise Conflict(f"窗口号 {body.number} 在该大厅已存在")
    window = Window(
        hall_id=body.hall_id, unit_id=hall.unit_id, department_id=body.department_id, number=body.number,
        name=body.name,
    )  # fmt: skip
    session.add(window)
    session.commit()
    return WindowPublic.model_validate(window, from_attributes=True)


@router.put("/windows/{window_id}/agent")
def bind_window(
    window_id: int, body: WindowBind, principal: PrincipalDep, session: SessionDep
) -> WindowPublic:
    """Bind the window to the agent of its counter PC (``agent_id`` null unbinds)."""
    principal.scope.require(Action.WINDOW_BIND)
    window = principal.scope.get(session, Window, window_id)
    if body.agent_id is not None:
        other = session.exec(select(Window.id).where(Window.agent_id == body.agent_id)).first()
        if other is not None and other != window.id:
            raise Conflict(f"终端 {body.agent_id} 已绑定到其他窗口")
    window.agent_id = body.agent_id
    session.add(window)
    session.commit()
    return WindowPublic.model_validate(window, from_attributes=True)


@router.post(
    "/import",
    responses={422: {"model": OrgImportReport, "description": "problems found; nothing was imported"}},
    openapi_extra={
        "requestBody": {
            "content": {
                XLSX: {"schema": {"type": "string", "format": "binary"}},
                "text/csv": {"schema": {"type": "string"}},
            }
        }
    },
)
def import_org(
    principal: PrincipalDep, session: SessionDep, data: Annotated[bytes, Body(media_type=XLSX)]
) -> OrgImportReport:
    """Import lower levels (body: the .xlsx, or a CSV of units). Any problem → 422 with all of them, nothing imported."""
    principal.scope.require(Action.ORG_WRITE)
    if len(data) > MAX_IMPORT_BYTES:
        raise InvalidInput(f"文件超过 {MAX_IMPORT_BYTES // (1024 * 1024)} MB")
    result = org_import.import_org(session, principal.scope, data)
    if result.issues:
        session.rollback()
        report = OrgImportReport(ok=False, issues=[ImportIssue(**vars(i)) for i in result.issues])
        return JSONResponse(report.model_dump(), status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)  # type: ignore[return-value]
    session.commit()
    counts = {key: ImportCounts(**vars(result.counts[sheet])) for key, sheet in _KINDS.items()}
    return OrgImportReport(ok=True, **counts)
