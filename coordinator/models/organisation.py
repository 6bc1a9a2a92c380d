"""API model families of the organisation, staff and sign-in (tables live in ``workflow``).

Create/Update models forbid unknown fields, so a request cannot set what it may not (``status``, ``roles`` on
an update by the person themself, ``unit_id`` of an existing row, …): such a request is refused with 422.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from coordinator.models.catalog import ImportIssue
from workflow.codes import Level, Role


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UnitCreate(_In):
    code: str = Field(pattern=r"^\d{12}$", description="12-digit division code")
    name: str = Field(min_length=1, max_length=64)
    parent_id: int


class UnitPublic(BaseModel):
    id: int
    code: str
    name: str
    level: Level
    parent_id: int | None


class DepartmentCreate(_In):
    unit_id: int
    code: str = Field(pattern=r"^[A-Z0-9_]{1,32}$", description="line code, the same at every level")
    name: str = Field(min_length=1, max_length=64)


class DepartmentPublic(BaseModel):
    id: int
    unit_id: int
    code: str
    name: str


class HallCreate(_In):
    unit_id: int
    name: str = Field(min_length=1, max_length=64)


class HallPublic(BaseModel):
    id: int
    unit_id: int
    name: str


class WindowCreate(_In):
    hall_id: int
    department_id: int | None = None
    number: str = Field(min_length=1, max_length=16)
    name: str = Field(min_length=1, max_length=64)


class WindowBind(_In):
    agent_id: str | None = Field(max_length=64, description="the counter PC's agent; null unbinds")


class WindowPublic(BaseModel):
    id: int
    hall_id: int
    unit_id: int
    department_id: int | None
    number: str
    name: str
    agent_id: str | None


class ImportCounts(BaseModel):
    created: int = 0
    updated: int = 0
    unchanged: int = 0


class OrgImportReport(BaseModel):
    """The answer to an organisation import: counts per kind of row, or every problem (nothing imported)."""

    ok: bool
    units: ImportCounts = Field(default_factory=ImportCounts)
    departments: ImportCounts = Field(default_factory=ImportCounts)
    halls: ImportCounts = Field(default_factory=ImportCounts)
    windows: ImportCounts = Field(default_factory=ImportCounts)
    issues: list[ImportIssue] = Field(default_factory=list)


class StaffCreate(_In):
    employee_no: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    name: str = Field(min_length=1, max_length=64)
    unit_id: int
    department_id: int | None = None
    window_id: int | None = None
    roles: list[Role] = Field(min_length=1)
    password: str = Field(min_length=10, max_length=256)


class StaffUpdate(_In):
    """What an administrator may change: not the unit, department, employee number or lockout counters."""

    name: str | None = Field(None, min_length=1, max_length=64)
    window_id: int | None = None
    roles: list[Role] | None = Field(None, min_length=1)
    active: bool | None = None


class StaffPublic(BaseModel):
    id: int
    employee_no: str
    name: str
    unit_id: int
    department_id: int | None
    window_id: int | None
    roles: list[Role]
    status: str
    locked: bool


class StaffList(BaseModel):
    data: list[StaffPublic]
    count: int


class PasswordSet(_In):
    password: str = Field(min_length=10, max_length=256)


class PasswordChange(_In):
    old_password: str = Field(max_length=256)
    new_password: str = Field(min_length=10, max_length=256)


class SignIn(_In):
    employee_no: str = Field(max_length=32)
    password: str = Field(max_length=256)


class TokenPublic(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 — the OAuth2 token type, not a secret
    expires_in: int
