"""The boards, read from ``stats_daily`` only (never from ``case_file``), within the person's scope.

Scope: the rows of units the person reaches (their unit's subtree, as :class:`~workflow.scope.Scope` gives it
for :class:`~workflow.org.OrgUnit`) and, for a department-bound person, only their department line's rows plus
those without a department — the same reach a case has.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from coordinator.models.stats import (
    COUNTS,
    NO_DEPARTMENT,
    Board,
    BoardRules,
    Counts,
    DailyPage,
    StatsDaily,
    StatsRules,
    Trend,
    TrendPoint,
    UnitRow,
)
from workflow.org import Department, OrgUnit, subtree_ids
from workflow.scope import Scope

RULES_ID = 1


def _where(session: Session, scope: Scope, start: dt.date, end: dt.date, unit_id: int | None) -> list[Any]:
    units = scope.restrict(select(col(OrgUnit.id)), OrgUnit)
    where: list[Any] = [
        col(StatsDaily.day) >= start,
        col(StatsDaily.day) <= end,
        col(StatsDaily.unit_id).in_(units),
    ]
    if unit_id is not None:
        unit = scope.get(session, OrgUnit, unit_id)
        where.append(col(StatsDaily.unit_id).in_(subtree_ids(unit.path)))
    if scope.department_code is not None:
        depts = scope.restrict(select(col(Department.id)), Department)
        where.append(
            sa.or_(col(StatsDaily.department_id).in_(depts), col(StatsDaily.department_id) == NO_DEPARTMENT)
        )
    return where


def _sums() -> list[Any]:
    return [sa.func.sum(getattr(StatsDaily, n)).label(n) for n in COUNTS]


def _counts(row: Any) -> dict[str, int]:
    return {n: int(getattr(row, n) or 0) for n in COUNTS}


def _rate(c: dict[str, int]) -> float | None:
    return c["on_time"] / c["concluded"] if c["concluded"] else None


def per_unit(
    session: Session, scope: Scope, start: dt.date, end: dt.date, unit_id: int | None = None
) -> list[UnitRow]:
    sums = (
        sa.select(col(StatsDaily.unit_id), col(StatsDaily.department_id), *_sums())
        .where(*_where(session, scope, start, end, unit_id))
        .group_by(col(StatsDaily.unit_id), col(StatsDaily.department_id))
        .subquery()
    )
    stmt = (
        sa.select(sums, col(OrgUnit.name), col(Department.name))
        .join(OrgUnit, col(OrgUnit.id) == sums.c.unit_id)
        .outerjoin(Department, col(Department.id) == sums.c.department_id)
    )
    out = []
    for unit, dept, *counts, unit_name, dept_name in session.execute(stmt):
        c: dict[str, Any] = dict(zip(COUNTS, (int(n or 0) for n in counts), strict=True))
        out.append(UnitRow.model_construct(
            unit_id=unit, unit_name=unit_name, department_id=dept if dept != NO_DEPARTMENT else None,
            department_name=dept_name, on_time_rate=_rate(c), **c,
        ))  # fmt: skip
    out.sort(key=lambda u: (-u.concluded, -u.accepted, u.unit_id, u.department_id or 0))
    return out


def daily(
    session: Session, scope: Scope, start: dt.date, end: dt.date, unit_id: int | None = None
) -> DailyPage:
    rows = per_unit(session, scope, start, end, unit_id)
    total = Counts(**{n: sum(getattr(r, n) for r in rows) for n in COUNTS})
    return DailyPage(start=start, end=end, rows=rows, total=total)


def trend(session: Session, scope: Scope, start: dt.date, end: dt.date, unit_id: int | None = None) -> Trend:
    stmt = (
        sa.select(col(StatsDaily.day), *_sums())
        .where(*_where(session, scope, start, end, unit_id))
        .group_by(col(StatsDaily.day))
    )
    found = {r.day: _counts(r) for r in session.execute(stmt)}
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    return Trend(start=start, end=end, points=[TrendPoint(day=d, **found.get(d, {})) for d in days])


def rules(session: Session) -> BoardRules:
    row = session.get(StatsRules, RULES_ID)
    return BoardRules.model_validate(row.rules) if row is not None else BoardRules()


def set_rules(session: Session, new: BoardRules, staff_id: int | None, now: float) -> BoardRules:
    row = session.get(StatsRules, RULES_ID) or StatsRules(id=RULES_ID)
    row.rules, row.updated_by, row.updated_at = new.model_dump(), staff_id, now
    session.add(row)
    session.commit()
    return new


def overdue_ranking(session: Session, scope: Scope, start: dt.date, end: dt.date, unit_id: int | None = None,
                    limit: int = 20) -> Board:  # fmt: skip
    rows = [r for r in per_unit(session, scope, start, end, unit_id) if r.overdue or r.red_cards]
    rows.sort(key=lambda r: (-r.overdue, -r.red_cards, -r.yellow_cards, r.unit_id))
    return Board(start=start, end=end, rules=rules(session), rows=rows[:limit])


def honor(session: Session, scope: Scope, start: dt.date, end: dt.date, unit_id: int | None = None) -> Board:
    """光荣榜: on-time rate and volume at or above the rules' thresholds, best rate first."""
    r = rules(session)
    rows = [
        u for u in per_unit(session, scope, start, end, unit_id)
        if u.concluded >= r.honor_min_concluded and (u.on_time_rate or 0.0) >= r.honor_min_on_time_rate
        and not _exposed(u, r)
    ]  # fmt: skip
    rows.sort(key=lambda u: (-(u.on_time_rate or 0.0), -u.concluded, u.unit_id))
    return Board(start=start, end=end, rules=r, rows=rows)


def _exposed(u: UnitRow, r: BoardRules) -> bool:
    return u.overdue >= r.exposure_min_overdue or u.red_cards >= r.exposure_min_red_cards


def exposure(
    session: Session, scope: Scope, start: dt.date, end: dt.date, unit_id: int | None = None
) -> Board:
    """曝光台: overdue conclusions or red cards at or above the rules' thresholds, worst first."""
    r = rules(session)
    rows = [
        u for u in per_unit(session, scope, start, end, unit_id)
        if _exposed(u, r)
    ]  # fmt: skip
    rows.sort(key=lambda u: (-u.overdue, -u.red_cards, u.unit_id))
    return Board(start=start, end=end, rules=r, rows=rows)
