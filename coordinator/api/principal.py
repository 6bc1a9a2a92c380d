"""The signed-in person behind a request: staff JWT → :class:`Principal` (staff row + :class:`Scope`).

Routes of the organisation, staff and catalog take ``PrincipalDep``; every id they touch is looked up through
``principal.scope`` (see ``workflow.scope``). The registry routes keep the service token (``deps.Authenticated``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from coordinator.api.deps import SessionDep
from coordinator.security import AuthError, Passwords, Tokens
from coordinator.settings import Settings
from workflow.scope import Scope
from workflow.staff import Staff

_bearer = HTTPBearer(
    auto_error=False, scheme_name="StaffJWT", description="staff token from /api/v1/auth/login"
)


@dataclass
class Security:
    passwords: Passwords
    tokens: Tokens


def get_security(request: Request) -> Security:
    found: Security | None = getattr(request.app.state, "staff_security", None)
    if found is None:
        settings: Settings = request.app.state.settings
        found = Security(Passwords.from_settings(settings), Tokens(settings))
        request.app.state.staff_security = found
    return found


SecurityDep = Annotated[Security, Depends(get_security)]


@dataclass(frozen=True)
class Principal:
    staff: Staff
    scope: Scope


def _unauthorized(detail: str = "未登录或登录已失效") -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"})


def get_principal(
    session: SessionDep,
    security: SecurityDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        raise _unauthorized()
    try:
        claims = security.tokens.decode(credentials.credentials)
    except AuthError as err:
        raise _unauthorized() from err
    staff = session.get(Staff, claims.staff_id)
    if staff is None or staff.status != "active" or staff.token_version != claims.version:
        raise _unauthorized()
    return Principal(staff, Scope.of(session, staff))


PrincipalDep = Annotated[Principal, Depends(get_principal)]
