"""Keep ``stats_daily`` current from case events, and rebuild it from the ledger.

:func:`on_case_event` is a :class:`~coordinator.cases.hooks.CaseHooks` listener: it runs in the case event's
transaction and adds one upsert (``INSERT … ON CONFLICT DO UPDATE SET n = n + 1``), so the counts commit or
roll back with the event. :func:`rebuild` recomputes every row from the ``accepted`` / ``concluded`` events.

What is counted, by the China day of the event, at the case's unit and department:

- ``accepted``: an ``accepted`` event;
- ``concluded``: a ``concluded`` event with outcome approved or denied (withdrawn and voided cases are not
  办结 and are not counted);
- of those, ``red_cards``: concluded after the promised due date (红牌); ``on_time`` = concluded − red;
  ``yellow_cards``: concluded on time but within the yellow window (``Policy.yellow_days`` working days or
  fewer before the promised date: the case carried a yellow flag); ``overdue``: concluded after the statutory
  due date (超期).
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, delete, select

from coordinator.models.stats import COUNTS, NO_DEPARTMENT, StatsDaily
from workflow import calendar, case_engine
from workflow.case_engine import china_date
from workflow.case_states import EventType, Outcome
from workflow.cases import Case
from workflow.deadlines import DEFAULT_YELLOW_DAYS, Flag, flag
from workflow.ledger import CaseEvent

Key = tuple[dt.date, int, int]
_COUNTED = frozenset({Outcome.APPROVED.value, Outcome.DENIED.value})


def grade(cal: calendar.Calendar, case: Case, day: dt.date) -> dict[str, int]:
    """The counts one conclusion on ``day`` adds."""
    card = flag(cal, day, case.due_promised, DEFAULT_YELLOW_DAYS)
    late = case.due_statutory is not None and day > case.due_statutory
    return {
        "concluded": 1,
        "on_time": int(card != Flag.RED),
        "red_cards": int(card == Flag.RED),
        "yellow_cards": int(card == Flag.YELLOW),
        "overdue": int(late),
    }


def _key(case: Case, day: dt.date) -> Key:
    return day, case.unit_id, case.department_id or NO_DEPARTMENT


def counts_for(
    session: Session, case: Case, event_type: str, data: dict[str, Any], at: float
) -> dict[str, int]:
    if event_type == EventType.ACCEPTED:
        return {"accepted": 1}
    if event_type == EventType.CONCLUDED and data.get("outcome") in _COUNTED:
        return grade(case_engine.context(session, case).cal, case, china_date(at))
    return {}


def add(session: Session, key: Key, counts: dict[str, int]) -> None:
    """Upsert: add ``counts`` to the row of ``key`` (created at zero)."""
    day, unit_id, department_id = key
    values = {
        "day": day,
        "unit_id": unit_id,
        "department_id": department_id,
        **dict.fromkeys(COUNTS, 0),
        **counts,
    }
    table = StatsDaily.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["day", "unit_id", "department_id"],
        set_={name: table.c[name] + stmt.excluded[name] for name in counts},
    )
    session.execute(stmt)


def on_case_event(session: Session, case: Case, event_type: str, data: dict[str, Any]) -> None:
    """CaseHooks listener: count the event in its own transaction (the case's ``updated_at`` is the event time)."""
    at = case.updated_at if case.updated_at is not None else time.time()
    counts = counts_for(session, case, event_type, data, at)
    if counts:
        add(session, _key(case, china_date(at)), counts)


def rebuild(session: Session, batch: int = 5000) -> int:
    """Recompute ``stats_daily`` from the ledger (in the caller's transaction); returns the number of rows."""
    totals: dict[Key, Counter[str]] = {}
    cals: dict[int, calendar.Calendar] = {}
    query = (
        select(CaseEvent, Case)
        .join(Case, col(Case.id) == col(CaseEvent.case_id))
        .where(col(CaseEvent.type).in_([EventType.ACCEPTED.value, EventType.CONCLUDED.value]))
        .order_by(col(CaseEvent.id))
        .execution_options(yield_per=batch)
    )
    for event, case in session.exec(query):
        if event.type == EventType.CONCLUDED and event.data.get("outcome") in _COUNTED:
            cal = cals.get(case.unit_id)
            if cal is None:
                cal = cals[case.unit_id] = case_engine.context(session, case).cal
            counts = grade(cal, case, china_date(event.at))
        else:
            counts = counts_for(session, case, event.type, event.data, event.at)
        if counts:
            totals.setdefault(_key(case, china_date(event.at)), Counter()).update(counts)
    session.execute(delete(StatsDaily))
    _insert(session, totals.items())
    return len(totals)


def _insert(session: Session, rows: Iterable[tuple[Key, Counter[str]]], chunk: int = 1000) -> None:
    table = StatsDaily.__table__  # type: ignore[attr-defined]
    buf: list[dict[str, Any]] = []
    for (day, unit_id, department_id), c in rows:
        buf.append(
            {"day": day, "unit_id": unit_id, "department_id": department_id, **{n: c[n] for n in COUNTS}}
        )
        if len(buf) >= chunk:
            session.execute(sa.insert(table), buf)
            buf = []
    if buf:
        session.execute(sa.insert(table), buf)
