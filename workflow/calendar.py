"""The working-day calendar: which days are working days, per region, editable.

By default Monday–Friday are working days. :class:`CalendarDay` rows override that for one day: a public
holiday (``working=False``) or an adjusted working day, 调休 (``working=True`` on a Saturday or Sunday).
Rows of region :data:`NATIONAL` come from the State Council's notices (seeded from the ``chinesecalendar``
package for the years it covers, see :func:`seed_rows`); rows of a unit's code (``640000000000`` for the
region, a city's or county's code) are that place's own days and win over the national ones. Later years
are entered by admins (API) before the package knows them.

:class:`Calendar` is the pure value the deadline functions take.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Field, Session, SQLModel, col, func, select

NATIONAL = "CN"
SEEDED = "chinesecalendar"
ADMIN = "admin"


class CalendarDay(SQLModel, table=True):
    __tablename__ = "calendar_day"

    region: str = Field(primary_key=True, max_length=12, description="CN, or an organisation unit's code")
    day: dt.date = Field(primary_key=True)
    working: bool
    name: str = Field(default="", max_length=64)
    source: str = Field(default=ADMIN, max_length=16)
    updated_at: float = Field(default_factory=time.time)


@dataclass(frozen=True)
class Calendar:
    """Working days: weekdays, except where ``overrides`` says otherwise."""

    overrides: Mapping[dt.date, bool] = field(default_factory=dict)

    def is_working(self, day: dt.date) -> bool:
        found = self.overrides.get(day)
        return day.weekday() < 5 if found is None else found

    def next_working(self, day: dt.date) -> dt.date:
        """``day`` if it is a working day, else the first working day after it."""
        while not self.is_working(day):
            day += dt.timedelta(days=1)
        return day


def seed_rows() -> list[dict[str, Any]]:
    """National holidays and adjusted working days (调休) for every year ``chinesecalendar`` covers.

    Only rows that differ from the weekday rule are kept (a holiday on a Saturday needs no row).
    """
    import chinese_calendar  # only the migration and tests need it

    now = time.time()
    rows: list[dict[str, Any]] = []
    for day, name in sorted(chinese_calendar.holidays.items()):
        if day.weekday() < 5:
            rows.append(_row(day, False, str(name), now))
    for day, name in sorted(chinese_calendar.workdays.items()):
        if day.weekday() >= 5:
            rows.append(_row(day, True, f"{name} 调休" if name else "调休", now))
    return rows


def _row(day: dt.date, working: bool, name: str, now: float) -> dict[str, Any]:
    return {"region": NATIONAL, "day": day, "working": working, "name": name[:64], "source": SEEDED,
            "updated_at": now}  # fmt: skip


_cache: dict[tuple[Any, ...], Calendar] = {}


def load(session: Session, regions: Iterable[str]) -> Calendar:
    """The calendar of a place: national days, overridden by each of ``regions`` in order (outer first).

    Kept in memory while the rows' count and newest ``updated_at`` stay the same (any edit changes one).
    """
    order = [NATIONAL, *regions]
    where = col(CalendarDay.region).in_(order)
    count, newest = session.exec(select(func.count(), func.max(CalendarDay.updated_at)).where(where)).one()
    key = (tuple(order), count, newest)
    found = _cache.get(key)
    if found is not None:
        return found
    rows = session.exec(select(CalendarDay).where(where)).all()
    rank = {r: i for i, r in enumerate(order)}
    overrides: dict[dt.date, bool] = {}
    for row in sorted(rows, key=lambda r: rank[r.region]):
        overrides[row.day] = row.working
    if len(_cache) > 256:
        _cache.clear()
    _cache[key] = Calendar(overrides)
    return _cache[key]


def set_day(session: Session, region: str, day: dt.date, working: bool | None, name: str = "") -> None:
    """Make ``day`` a working day or not in ``region``; ``working=None`` removes the region's own entry."""
    row = session.get(CalendarDay, (region, day))
    if working is None:
        if row is not None:
            session.delete(row)
    else:
        row = row or CalendarDay(region=region, day=day, working=working)
        row.working, row.name, row.source, row.updated_at = working, name, ADMIN, time.time()
        session.add(row)
    session.flush()


def days(session: Session, region: str, year: int) -> list[CalendarDay]:
    start, end = dt.date(year, 1, 1), dt.date(year + 1, 1, 1)
    query = select(CalendarDay).where(
        CalendarDay.region == region, col(CalendarDay.day) >= start, col(CalendarDay.day) < end
    )
    return list(session.exec(query.order_by(col(CalendarDay.day))))
