"""Staff sign-in: argon2id password hashes, HS256 JWTs, lockout after repeated failures, revocation.

A token carries ``sub`` (staff id), ``ver`` (the staff row's ``token_version``), ``jti``, ``iat``, ``exp`` and
``iss``. It is accepted only when signed with HS256 under ``HALLMESH_JWT_SECRET`` (the algorithm is pinned, so
``alg: none`` or any other algorithm is refused), unexpired, and when ``ver`` still equals the row's
``token_version`` — raising that (sign-out, password change, disabling, an admin's revoke) revokes every token
the person holds. Unknown employee numbers cost the same argon2 verification as wrong passwords.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import jwt
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlmodel import Session, col, select

from coordinator.settings import Settings
from workflow.staff import Staff

ALGORITHM = "HS256"
ISSUER = "hallmesh-coordinator"
MIN_PASSWORD_LENGTH = 10
REFUSED = "工号或密码错误，或账号已被临时锁定"


class AuthError(Exception):
    """Sign-in refused or token not acceptable (API: 401, one message for every cause)."""


@dataclass(frozen=True)
class Claims:
    staff_id: int
    version: int


class Passwords:
    def __init__(self, time_cost: int = 3, memory_kib: int = 65536, parallelism: int = 4) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)
        self._dummy = self._hasher.hash(secrets.token_urlsafe(16))

    @classmethod
    def from_settings(cls, settings: Settings) -> Passwords:
        return cls(settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism)

    def hash(self, password: str) -> str:
        if len(password) < MIN_PASSWORD_LENGTH:
            raise ValueError(f"密码至少 {MIN_PASSWORD_LENGTH} 个字符")
        return self._hasher.hash(password)

    def verify(self, hashed: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(hashed or self._dummy, password) and hashed is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, hashed: str) -> bool:
        return self._hasher.check_needs_rehash(hashed)


class Tokens:
    def __init__(self, settings: Settings) -> None:
        self._secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else None
        self.ttl_s = settings.jwt_ttl_s

    @property
    def enabled(self) -> bool:
        return self._secret is not None

    def issue(self, staff: Staff, now: float | None = None) -> str:
        if self._secret is None or staff.id is None:
            raise AuthError("staff sign-in is not configured")
        iat = int(now if now is not None else time.time())
        claims = {
            "sub": str(staff.id), "ver": staff.token_version, "jti": secrets.token_hex(16), "iat": iat,
            "exp": iat + self.ttl_s, "iss": ISSUER,
        }  # fmt: skip
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def decode(self, token: str) -> Claims:
        if self._secret is None:
            raise AuthError("staff sign-in is not configured")
        try:
            data = jwt.decode(
                token, self._secret, algorithms=[ALGORITHM], issuer=ISSUER,
                options={"require": ["sub", "ver", "jti", "iat", "exp", "iss"]},
            )  # fmt: skip
            return Claims(int(data["sub"]), int(data["ver"]))
        except (jwt.PyJWTError, ValueError, TypeError) as err:
            raise AuthError("invalid token") from err


def sign_in(
    session: Session, settings: Settings, passwords: Passwords, employee_no: str, password: str
) -> Staff:
    """The staff row if the password is right and the account active and not locked; else :class:`AuthError`.

    Commits the failure counter (and the lockout) before raising.
    """
    now = time.time()
    staff = session.exec(select(Staff).where(Staff.employee_no == employee_no)).first()
    ok = passwords.verify(staff.password_hash if staff else None, password)
    if staff is None:
        raise AuthError(REFUSED)
    if staff.locked_until is not None and staff.locked_until > now:
        raise AuthError(REFUSED)
    if not ok or staff.status != "active":
        # One UPDATE … RETURNING, so concurrent guesses cannot overwrite each other's count.
        failures = session.execute(
            sa.update(Staff)
            .where(col(Staff.id) == staff.id)
            .values(failed_logins=col(Staff.failed_logins) + 1)
            .returning(col(Staff.failed_logins))
        ).scalar_one()
        if failures >= settings.login_max_failures:
            session.execute(
                sa.update(Staff)
                .where(col(Staff.id) == staff.id)
                .values(failed_logins=0, locked_until=now + settings.login_lockout_s)
            )
        session.commit()
        raise AuthError(REFUSED)
    staff.failed_logins = 0
    staff.locked_until = None
    if staff.password_hash is not None and passwords.needs_rehash(staff.password_hash):
        staff.password_hash = passwords.hash(password)
    session.add(staff)
    session.commit()
    session.refresh(staff)
    return staff
