"""Staff accounts: who may sign in, where they sit, what roles they hold.

Passwords are stored only as argon2 hashes (hashing is the coordinator's concern; a staff row without a hash
cannot sign in). ``token_version`` is part of every token issued; raising it revokes all of the person's tokens.
"""

from __future__ import annotations

from sqlmodel import Field, SQLModel

from workflow.codes import Role


class Staff(SQLModel, table=True):
    __tablename__ = "staff"

    id: int | None = Field(default=None, primary_key=True)
    employee_no: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=64)
    unit_id: int = Field(foreign_key="org_unit.id", index=True)
    department_id: int | None = Field(default=None, foreign_key="org_department.id", index=True)
    window_id: int | None = Field(default=None, foreign_key="org_window.id")
    roles: str = Field(default="", max_length=255, description="comma-separated, sorted")
    status: str = Field(default="active", max_length=16)
    password_hash: str | None = Field(default=None, max_length=255)
    failed_logins: int = 0
    locked_until: float | None = None
    token_version: int = 1

    @property
    def role_set(self) -> frozenset[Role]:
        return frozenset(Role(r) for r in self.roles.split(",") if r)


def join_roles(roles: frozenset[Role] | set[Role] | list[Role]) -> str:
    return ",".join(sorted(str(r) for r in set(roles)))
