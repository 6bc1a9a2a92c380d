"""Statistics tables (migration 0800): the daily pre-aggregate behind the boards, and the boards' rules.

``stats_daily`` has one row per (China day, unit, department): counts of cases accepted and concluded that day
and, of those concluded, how many on time / past the statutory limit / with a yellow or red card. It is kept
current by :mod:`coordinator.stats.aggregate` in the case event's own transaction and can be rebuilt from the
ledger. ``department_id`` 0 stands for "no department" (a village proxy point's window), so the row has a
plain unique key.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from pydantic import Field as PField
from sqlmodel import Field, SQLModel

NO_DEPARTMENT = 0


class StatsDaily(SQLModel, table=True):
    __tablename__ = "stats_daily"
    __table_args__ = (
        sa.UniqueConstraint("day", "unit_id", "department_id", name="uq_stats_daily_key"),
        sa.Index("ix_stats_daily_unit_day", "unit_id", "day"),
    )

    id: int | None = Field(default=None, primary_key=True)
    day: dt.date
    unit_id: int = Field(foreign_key="org_unit.id")
    department_id: int = Field(default=NO_DEPARTMENT, description="0: no department")
    accepted: int = 0
    concluded: int = 0
    on_time: int = 0
    overdue: int = 0
    yellow_cards: int = 0
    red_cards: int = 0


COUNTS = ("accepted", "concluded", "on_time", "overdue", "yellow_cards", "red_cards")


class StatsRules(SQLModel, table=True):
    """The boards' rules as data (one row, id 1): see :class:`BoardRules`."""

    __tablename__ = "stats_rules"

    id: int | None = Field(default=None, primary_key=True)
    rules: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    updated_by: int | None = Field(default=None, foreign_key="staff.id")
    updated_at: float = 0.0


class BoardRules(BaseModel, extra="forbid"):
    """光荣榜: on-time rate ≥ ``honor_min_on_time_rate`` with ≥ ``honor_min_concluded`` concluded.
    曝光台: ≥ ``exposure_min_overdue`` concluded past the statutory limit, or ≥ ``exposure_min_red_cards``."""

    honor_min_on_time_rate: float = PField(default=0.98, ge=0, le=1)
    honor_min_concluded: int = PField(default=10, ge=1)
    exposure_min_overdue: int = PField(default=3, ge=1)
    exposure_min_red_cards: int = PField(default=1, ge=1)


# -- API models -------------------------------------------------------------------------------------------


class Counts(BaseModel):
    accepted: int = 0
    concluded: int = 0
    on_time: int = 0
    overdue: int = 0
    yellow_cards: int = 0
    red_cards: int = 0


class UnitRow(Counts):
    unit_id: int
    unit_name: str
    department_id: int | None
    department_name: str | None
    on_time_rate: float | None = None


class DailyPage(BaseModel):
    start: dt.date
    end: dt.date
    rows: list[UnitRow]
    total: Counts


class TrendPoint(Counts):
    day: dt.date


class Trend(BaseModel):
    start: dt.date
    end: dt.date
    points: list[TrendPoint]


class Board(BaseModel):
    """An overdue ranking, 光荣榜 or 曝光台: units/departments in order, with the rules that made it."""

    start: dt.date
    end: dt.date
    rules: BoardRules
    rows: list[UnitRow]


class RebuildReport(BaseModel):
    rows: int
    seconds: float
