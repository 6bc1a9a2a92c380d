"""``/api/v1/auth``: staff sign-in (employee number + password → JWT), sign-out, whoami, password change."""

from __future__ import annotations

import time

from fastapi import APIRouter, HTTPException, Request, status

from coordinator.api.deps import SessionDep
from coordinator.api.principal import PrincipalDep, SecurityDep
from coordinator.models.organisation import PasswordChange, SignIn, StaffPublic, TokenPublic
from coordinator.security import AuthError, sign_in
from workflow.staff import Staff

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


def staff_public(staff: Staff, now: float | None = None) -> StaffPublic:
    assert staff.id is not None
    locked = staff.locked_until is not None and staff.locked_until > (now or time.time())
    return StaffPublic(
        id=staff.id, employee_no=staff.employee_no, name=staff.name, unit_id=staff.unit_id,
        department_id=staff.department_id, window_id=staff.window_id, roles=sorted(staff.role_set),
        status=staff.status, locked=locked,
    )  # fmt: skip


@router.post("/login")
def login(body: SignIn, request: Request, session: SessionDep, security: SecurityDep) -> TokenPublic:
    if not security.tokens.enabled:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "未配置人员登录（HALLMESH_JWT_SECRET）")
    try:
        staff = sign_in(
            session, request.app.state.settings, security.passwords, body.employee_no, body.password
        )
    except AuthError as err:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, str(err), headers={"WWW-Authenticate": "Bearer"}
        ) from err
    return TokenPublic(access_token=security.tokens.issue(staff), expires_in=security.tokens.ttl_s)


@router.get("/me")
def me(principal: PrincipalDep) -> StaffPublic:
    return staff_public(principal.staff)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(principal: PrincipalDep, session: SessionDep) -> None:
    """Revokes every token of the signed-in person (all their sessions)."""
    staff = principal.staff
    staff.token_version += 1
    session.add(staff)
    session.commit()


@router.post("/password", status_code=status.HTTP_204_NO_CONTENT)
def change_password(
    body: PasswordChange, principal: PrincipalDep, session: SessionDep, security: SecurityDep
) -> None:
    """Change one's own password; all existing tokens are revoked."""
    staff = principal.staff
    if not security.passwords.verify(staff.password_hash, body.old_password):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "原密码错误")
    staff.password_hash = security.passwords.hash(body.new_password)
    staff.token_version += 1
    session.add(staff)
    session.commit()
