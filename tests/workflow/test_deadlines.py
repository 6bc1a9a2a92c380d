"""Deadlines worked out by hand against the State Council's holiday notices (seeded from chinesecalendar).

Each case's comment is the count done by hand: "n" marks the n-th counted day; 调休 Saturdays and Sundays
count, holidays and weekends do not, the acceptance day never does; a natural-day period that ends on a
non-working day moves to the next working day; stopped days (special procedures) are skipped.
"""

from __future__ import annotations

import datetime as dt

import pytest

from workflow.calendar import Calendar, seed_rows
from workflow.codes import TimeUnit
from workflow.deadlines import Flag, Stop, due_date, flag, working_days_between

CAL = Calendar({r["day"]: r["working"] for r in seed_rows()})
D = dt.date.fromisoformat
W, N = TimeUnit.WORKING_DAYS, TimeUnit.CALENDAR_DAYS

CASES = [
    # (accepted, limit, unit, stops, extension, due)
    # 9-28 Sun 调休 1, 9-29 2, 9-30 3, 10-1..8 holiday, 10-9 4, 10-10 5, 10-11 Sat 调休 6, 10-13..17 7-11,
    # 10-20..24 12-16, 10-27..30 17-20
    ("2025-09-26", 20, W, [], 0, "2025-10-30"),
    # 2024 National Day: 9-29 Sun 调休 1, 9-30 2, 10-1..7 holiday, 10-8 3, 10-9 4, 10-10 5
    ("2024-09-27", 5, W, [], 0, "2024-10-10"),
    # 10-8..11 1-4, 10-12 Sat 调休 5
    ("2024-09-30", 5, W, [], 0, "2024-10-12"),
    # 2024 Spring Festival (2-10..17): 2-9 1, 2-18 Sun 调休 2, 2-19 3
    ("2024-02-08", 3, W, [], 0, "2024-02-19"),
    # 2-3 Sat no, 2-4 Sun 调休 1, 2-5 2
    ("2024-02-02", 2, W, [], 0, "2024-02-05"),
    # 2025 Spring Festival (1-28..2-4): 1-26 Sun 调休 1, 1-27 2, 2-5 3, 2-6 4, 2-7 5
    ("2025-01-24", 5, W, [], 0, "2025-02-07"),
    # … 2-8 Sat 调休 6
    ("2025-01-24", 6, W, [], 0, "2025-02-08"),
    # 2026 Spring Festival (2-15..23): 2-14 Sat 调休 1, 2-24 2
    ("2026-02-13", 2, W, [], 0, "2026-02-24"),
    # 2-25 1, 2-26 2, 2-27 3, 2-28 Sat 调休 4
    ("2026-02-24", 4, W, [], 0, "2026-02-28"),
    # 2026 National Day (10-1..7): 10-8 1, 10-9 2, 10-10 Sat 调休 3
    ("2026-09-30", 3, W, [], 0, "2026-10-10"),
    # 9-19 Sat no, 9-20 Sun 调休 1, 9-21 2
    ("2026-09-18", 2, W, [], 0, "2026-09-21"),
    # New Year: 12-30 1, 12-31 2, 1-1 holiday, 1-2 3
    ("2024-12-27", 3, W, [], 0, "2025-01-02"),
    # Qingming 2026: 4-4/5 weekend, 4-6 holiday, 4-7 1
    ("2026-04-03", 1, W, [], 0, "2026-04-07"),
    # Labour Day 2025: 5-1/2 holiday, 5-3/4 weekend, 5-5 holiday, 5-6 1
    ("2025-04-30", 1, W, [], 0, "2025-05-06"),
    # clock stop over National Day 2025 (9-29..10-10): 9-23..26 1-4, 9-28 Sun 调休 5, stopped,
    # 10-11 Sat 调休 6, 10-13 7, 10-14 8, 10-15 9, 10-16 10   (without the stop: 10-11)
    ("2025-09-22", 10, W, [Stop(D("2025-09-29"), D("2025-10-10"))], 0, "2025-10-16"),
    # extension: 20 + 10 working days from 2024-09-27: 9-29 1, 9-30 2, 10-8..11 3-6, 10-12 Sat 7,
    # 10-14..18 8-12, 10-21..25 13-17, 10-28..11-1 18-22, 11-4..8 23-27, 11-11 28, 11-12 29, 11-13 30
    ("2024-09-27", 20, W, [], 10, "2024-11-13"),
    # natural days: 9-27..10-1 = 5 days, 10-1 is a holiday → first working day after: 10-9
    ("2025-09-26", 5, N, [], 0, "2025-10-09"),
    # natural days ending on a working weekday: 2024-07-03 Wed
    ("2024-06-03", 30, N, [], 0, "2024-07-03"),
    # natural days ending on Saturday 3-16 → Monday 3-18
    ("2024-03-01", 15, N, [], 0, "2024-03-18"),
    # natural days ending on a 调休 Saturday: 10-11 is a working day
    ("2025-10-01", 10, N, [], 0, "2025-10-11"),
    # natural days with a stop (9-30..10-2 not counted): 9-29 1, 10-3..11 2-10 → 10-11 Sun → 10-12 Mon
    ("2026-09-28", 10, N, [Stop(D("2026-09-30"), D("2026-10-02"))], 0, "2026-10-12"),
    # natural-day extension: 15 + 5 from 2026-01-05 → 1-25 Sun → 1-26 Mon
    ("2026-01-05", 15, N, [], 5, "2026-01-26"),
]


@pytest.mark.parametrize(("accepted", "limit", "unit", "stops", "extension", "due"), CASES)
def test_due_dates_worked_by_hand(
    accepted: str, limit: int, unit: TimeUnit, stops: list[Stop], extension: int, due: str
) -> None:
    assert due_date(CAL, D(accepted), limit, unit, stops, extension) == D(due)


def test_there_are_enough_hand_worked_cases_across_three_years() -> None:
    assert len(CASES) >= 15
    assert {D(c[0]).year for c in CASES} == {2024, 2025, 2026}


def test_a_running_stop_is_assumed_to_end_today() -> None:
    stops = [Stop(D("2025-09-29"))]
    assert due_date(CAL, D("2025-09-22"), 10, W, stops, today=D("2025-10-10")) == D("2025-10-16")
    # still stopped a day later: the due date moves with it (10-11 is now a stopped 调休 day)
    assert due_date(CAL, D("2025-09-22"), 10, W, stops, today=D("2025-10-11")) == D("2025-10-17")


def test_zero_day_limit_is_due_the_same_day() -> None:
    assert due_date(CAL, D("2025-09-26"), 0) == D("2025-09-26")


def test_flags() -> None:
    due = D("2025-10-30")
    assert flag(CAL, D("2025-10-27"), due) is Flag.GREEN  # 3 working days left
    assert flag(CAL, D("2025-10-28"), due) is Flag.YELLOW  # 10-29, 10-30 left
    assert flag(CAL, D("2025-10-30"), due) is Flag.YELLOW
    assert flag(CAL, D("2025-10-31"), due) is Flag.RED
    assert flag(CAL, D("2025-10-27"), due, yellow_days=5) is Flag.YELLOW
    assert flag(CAL, D("2025-10-27"), None) is Flag.GREEN
    assert working_days_between(CAL, D("2025-09-26"), D("2025-10-30")) == 20
    assert working_days_between(CAL, D("2025-10-30"), D("2025-09-26")) == -20


def test_region_days_override_national_ones() -> None:
    local = Calendar({**CAL.overrides, D("2025-10-30"): False})  # e.g. a regional day off
    assert due_date(local, D("2025-09-26"), 20) == D("2025-10-31")
    assert Calendar().is_working(D("2025-10-01"))  # no rows: weekdays only
