"""``/api/v1/staff``: staff accounts within the administrator's scope.

A department admin manages clerks, reviewers and approvers of their department line at their unit and below;
a center admin manages everyone within their unit's subtree. Nobody can give roles they may not grant, nor
touch an account holding such roles (403); accounts outside the scope do not exist for them (404).
"""

from __future__ import annotations

from fastapi import APIRouter, status
from sqlmodel import Session, col, select

from coordinator.api.deps import SessionDep
from coordinator.api.principal import PrincipalDep, SecurityDep
from coordinator.api.staff_auth import staff_public
from coordinator.models.organisation import PasswordSet, StaffCreate, StaffList, StaffPublic, StaffUpdate
from workflow.errors import Conflict, Forbidden, NotFound
from workflow.org import Window
from workflow.scope import Action, Scope
from workflow.staff import Staff, join_roles

router = APIRouter(prefix="/api/v1/staff", tags=["staff"])


def _managed(scope: Scope, session: Session, staff_id: int) -> Staff:
    scope.require(Action.STAFF_WRITE)
    staff = scope.get(session, Staff, staff_id)
    if not scope.may_grant(staff.role_set):
        raise Forbidden("您无权管理持有该角色的人员")
    return staff


def _check_window(scope: Scope, session: Session, window_id: int | None, unit_id: int) -> None:
    if window_id is not None and scope.get(session, Window, window_id).unit_id != unit_id:
        raise NotFound("窗口不存在")


@router.get("")
def list_staff(principal: PrincipalDep, session: SessionDep, unit_id: int | None = None) -> StaffList:
    principal.scope.require(Action.STAFF_READ)
    stmt = principal.scope.select(Staff).order_by(col(Staff.employee_no))
    if unit_id is not None:
        stmt = stmt.where(Staff.unit_id == unit_id)
    data = [staff_public(s) for s in session.exec(stmt)]
    return StaffList(data=data, count=len(data))


@router.get("/{staff_id}")
def get_staff(staff_id: int, principal: PrincipalDep, session: SessionDep) -> StaffPublic:
    principal.scope.require(Action.STAFF_READ)
    return staff_public(principal.scope.get(session, Staff, staff_id))


@router.post("", status_code=status.HTTP_201_CREATED)
def create_staff(
    body: StaffCreate, principal: PrincipalDep, session: SessionDep, security: SecurityDep
) -> StaffPublic:
    scope = principal.scope
    scope.require(Action.STAFF_WRITE)
    scope.check_place(session, body.unit_id, body.department_id)
    _check_window(scope, session, body.window_id, body.unit_id)
    if not scope.may_grant(frozenset(body.roles)):
        raise Forbidden("您无权授予这些角色")
    if session.exec(select(Staff.id).where(Staff.employee_no == body.employee_no)).first() is not None:
        raise Conflict(f"工号 {body.employee_no} 已存在")
    staff = Staff(
        employee_no=body.employee_no, name=body.name, unit_id=body.unit_id, department_id=body.department_id,
        window_id=body.window_id, roles=join_roles(body.roles), password_hash=security.passwords.hash(body.password),
    )  # fmt: skip
    session.add(staff)
    session.commit()
    return staff_public(staff)


@router.patch("/{staff_id}")
def update_staff(
    staff_id: int, body: StaffUpdate, principal: PrincipalDep, session: SessionDep
) -> StaffPublic:
    scope = principal.scope
    staff = _managed(scope, session, staff_id)
    if body.roles is not None:
        if not scope.may_grant(frozenset(body.roles)):
            raise Forbidden("您无权授予这些角色")
        staff.roles = join_roles(body.roles)
        staff.token_version += 1
    if body.name is not None:
        staff.name = body.name
    if "window_id" in body.model_fields_set:
        _check_window(scope, session, body.window_id, staff.unit_id)
        staff.window_id = body.window_id
    if body.active is not None:
        if staff.id == principal.staff.id and not body.active:
            raise Conflict("不能停用自己的账号")
        staff.status = "active" if body.active else "disabled"
        staff.token_version += 1
    session.add(staff)
    session.commit()
    return staff_public(staff)


@router.post("/{staff_id}/unlock")
def unlock_staff(staff_id: int, principal: PrincipalDep, session: SessionDep) -> StaffPublic:
    staff = _managed(principal.scope, session, staff_id)
    staff.locked_until, staff.failed_logins = None, 0
    session.add(staff)
    session.commit()
    return staff_public(staff)


@router.post("/{staff_id}/revoke-tokens", status_code=status.HTTP_204_NO_CONTENT)
def revoke_tokens(staff_id: int, principal: PrincipalDep, session: SessionDep) -> None:
    staff = _managed(principal.scope, session, staff_id)
    staff.token_version += 1
    session.add(staff)
    session.commit()


@router.put("/{staff_id}/password", status_code=status.HTTP_204_NO_CONTENT)
def reset_password(
    staff_id: int, body: PasswordSet, principal: PrincipalDep, session: SessionDep, security: SecurityDep
) -> None:
    """Set a new password (e.g. a forgotten one); every token of the person is revoked."""
    staff = _managed(principal.scope, session, staff_id)
    staff.password_hash = security.passwords.hash(body.password)
    staff.token_version += 1
    session.add(staff)
    session.commit()
