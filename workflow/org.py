"""The organisation: five levels of units, departments within units, service halls and their windows.

A unit's ``path`` lists the ids from the root down to itself (``/1/4/17/``), so a subtree is one prefix
match — the basis of :mod:`workflow.scope`. Codes are the 12-digit statistical division codes (``640104000000``
for 兴庆区); a department's ``code`` names its line (``SCJG`` for market regulation) and repeats at every level.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, Session, SQLModel, col, select

from workflow.codes import Level
from workflow.errors import Conflict, InvalidInput


class OrgUnit(SQLModel, table=True):
    __tablename__ = "org_unit"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=12, unique=True)
    name: str = Field(max_length=64)
    level: int
    parent_id: int | None = Field(default=None, foreign_key="org_unit.id", index=True)
    path: str = Field(default="", max_length=255, index=True)


class Department(SQLModel, table=True):
    __tablename__ = "org_department"
    __table_args__ = (sa.UniqueConstraint("unit_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="org_unit.id", index=True)
    code: str = Field(max_length=32)
    name: str = Field(max_length=64)


class Hall(SQLModel, table=True):
    __tablename__ = "org_hall"

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="org_unit.id", index=True)
    name: str = Field(max_length=64)


class Window(SQLModel, table=True):
    __tablename__ = "org_window"
    __table_args__ = (sa.UniqueConstraint("hall_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    hall_id: int = Field(foreign_key="org_hall.id", index=True)
    unit_id: int = Field(foreign_key="org_unit.id", index=True)
    department_id: int | None = Field(default=None, foreign_key="org_department.id")
    number: str = Field(max_length=16)
    name: str = Field(max_length=64)
    agent_id: str | None = Field(default=None, max_length=64, unique=True)


def add_unit(session: Session, code: str, name: str, level: Level, parent: OrgUnit | None) -> OrgUnit:
    """Insert a unit below ``parent`` (one level down), with its path; flushes to get the id."""
    if parent is None and level != Level.PROVINCE:
        raise InvalidInput("只有自治区（省级）单位可以没有上级")
    if parent is not None and level != parent.level + 1:
        raise InvalidInput(f"下级单位的层级必须是 {parent.level + 1}")
    if session.exec(select(OrgUnit.id).where(OrgUnit.code == code)).first() is not None:
        raise Conflict(f"单位编码 {code} 已存在")
    unit = OrgUnit(code=code, name=name, level=int(level), parent_id=parent.id if parent else None)
    session.add(unit)
    session.flush()
    unit.path = f"{parent.path if parent else '/'}{unit.id}/"
    session.add(unit)
    session.flush()
    return unit


def unit_by_code(session: Session, code: str) -> OrgUnit | None:
    return session.exec(select(OrgUnit).where(OrgUnit.code == code)).first()


def subtree_ids(path: str) -> sa.Select[Any]:
    """A sub-select of the ids of the unit with ``path`` and all below it."""
    return sa.select(col(OrgUnit.id)).where(col(OrgUnit.path).startswith(path, autoescape=True))
