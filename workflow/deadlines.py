"""Deadlines as the law counts them — pure functions of a :class:`~workflow.calendar.Calendar`.

Counting (行政许可法 Art. 82, 民法典 Art. 201 and 203):

- the start day (the day of acceptance, or of a step's start) is not counted: counting begins the next day;
- a limit in *working days* counts only working days (weekends and holidays skipped, adjusted working days
  调休 counted);
- a limit in *natural days* counts every day, and a period whose last day is not a working day ends on the
  first working day after it;
- days on which the clock is stopped (a special procedure — hearing, expert review, testing, …) are not
  counted: a :class:`Stop` covers its first through its last day; one still running is assumed to end today;
- an extension (延长) adds days in the limit's own unit.

A due date is the *last* day on which the act is in time; the day after it the case is overdue (red). Yellow
means at most ``yellow_days`` working days are left.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from workflow.calendar import Calendar
from workflow.codes import TimeUnit

ONE_DAY = dt.timedelta(days=1)
DEFAULT_YELLOW_DAYS = 2


class Flag(StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


@dataclass(frozen=True)
class Stop:
    """The clock stands still from ``start`` through ``end`` (both included); ``end=None``: still stopped."""

    start: dt.date
    end: dt.date | None = None


def _closed(stops: Sequence[Stop], today: dt.date | None) -> list[tuple[dt.date, dt.date]]:
    out = []
    for s in stops:
        end = s.end if s.end is not None else (today if today is not None else s.start)
        out.append((s.start, max(end, s.start)))
    return out


def _stopped(day: dt.date, spans: list[tuple[dt.date, dt.date]]) -> bool:
    return any(a <= day <= b for a, b in spans)


def due_date(cal: Calendar, start: dt.date, limit: int, unit: TimeUnit = TimeUnit.WORKING_DAYS,
             stops: Sequence[Stop] = (), extension: int = 0, today: dt.date | None = None) -> dt.date:  # fmt: skip
    """The last day of a ``limit`` (+ ``extension``) period that starts on ``start`` (not counted)."""
    spans = _closed(stops, today)
    left = limit + extension
    day = start
    working = unit == TimeUnit.WORKING_DAYS
    while left > 0:
        day += ONE_DAY
        if _stopped(day, spans) or (working and not cal.is_working(day)):
            continue
        left -= 1
    return day if working else cal.next_working(day)


def working_days_between(cal: Calendar, after: dt.date, until: dt.date) -> int:
    """Working days in ``(after, until]``; negative (the days in ``(until, after]``) when ``until < after``."""
    if until < after:
        return -working_days_between(cal, until, after)
    n, day = 0, after
    while day < until:
        day += ONE_DAY
        n += cal.is_working(day)
    return n


def flag(cal: Calendar, today: dt.date, due: dt.date | None, yellow_days: int = DEFAULT_YELLOW_DAYS) -> Flag:
    """Red once ``today`` is past ``due``; yellow when ``yellow_days`` working days or fewer are left."""
    if due is None:
        return Flag.GREEN
    if today > due:
        return Flag.RED
    return Flag.YELLOW if working_days_between(cal, today, due) <= yellow_days else Flag.GREEN
