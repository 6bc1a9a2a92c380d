"""The stats boards over HTTP (staff sign-in; every read limited to the person's scope by the board queries).

``from``/``to`` are China days (inclusive; default: today, or the last 30 days for the trend); ``unit_id``
narrows to that unit's subtree (404 outside the scope). Rules and rebuild are for center admins.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Annotated

from fastapi import APIRouter, Query

from coordinator.api.deps import SessionDep
from coordinator.api.principal import PrincipalDep
from coordinator.models.stats import Board, BoardRules, DailyPage, RebuildReport, Trend
from coordinator.stats import aggregate, boards
from workflow.case_engine import china_date
from workflow.errors import InvalidInput
from workflow.scope import Action

router = APIRouter(prefix="/api/v1/stats", tags=["stats boards"])

From = Annotated[dt.date | None, Query(alias="from")]
To = Annotated[dt.date | None, Query(alias="to")]
MAX_DAYS = 366


def _period(start: dt.date | None, end: dt.date | None, default_days: int = 1) -> tuple[dt.date, dt.date]:
    end = end or china_date(time.time())
    start = start or end - dt.timedelta(days=default_days - 1)
    if start > end or (end - start).days >= MAX_DAYS:
        raise InvalidInput(f"统计区间须在 1 至 {MAX_DAYS} 天之间")
    return start, end


@router.get("/daily")
def daily(principal: PrincipalDep, session: SessionDep, start: From = None, end: To = None,
          unit_id: int | None = None) -> DailyPage:  # fmt: skip
    """Accepted, concluded, on time, overdue and cards per unit and department over the period."""
    principal.scope.require(Action.STATS_READ)
    return boards.daily(session, principal.scope, *_period(start, end), unit_id)


@router.get("/trend")
def trend(principal: PrincipalDep, session: SessionDep, start: From = None, end: To = None,
          unit_id: int | None = None) -> Trend:  # fmt: skip
    """One point per day (days without activity are zero)."""
    principal.scope.require(Action.STATS_READ)
    return boards.trend(session, principal.scope, *_period(start, end, 30), unit_id)


@router.get("/overdue")
def overdue(principal: PrincipalDep, session: SessionDep, start: From = None, end: To = None,
            unit_id: int | None = None, limit: Annotated[int, Query(ge=1, le=200)] = 20) -> Board:  # fmt: skip
    """Overdue ranking: most conclusions past the statutory limit first, then red cards."""
    principal.scope.require(Action.STATS_READ)
    return boards.overdue_ranking(session, principal.scope, *_period(start, end), unit_id, limit)


@router.get("/honor")
def honor(principal: PrincipalDep, session: SessionDep, start: From = None, end: To = None,
          unit_id: int | None = None) -> Board:  # fmt: skip
    """光荣榜 by the current rules."""
    principal.scope.require(Action.STATS_READ)
    return boards.honor(session, principal.scope, *_period(start, end), unit_id)


@router.get("/exposure")
def exposure(principal: PrincipalDep, session: SessionDep, start: From = None, end: To = None,
             unit_id: int | None = None) -> Board:  # fmt: skip
    """曝光台 by the current rules."""
    principal.scope.require(Action.STATS_READ)
    return boards.exposure(session, principal.scope, *_period(start, end), unit_id)


@router.get("/rules")
def get_rules(principal: PrincipalDep, session: SessionDep) -> BoardRules:
    principal.scope.require(Action.STATS_READ)
    return boards.rules(session)


@router.put("/rules")
def put_rules(body: BoardRules, principal: PrincipalDep, session: SessionDep) -> BoardRules:
    """Replace the honor/exposure rules (center admins)."""
    principal.scope.require(Action.STATS_MANAGE)
    return boards.set_rules(session, body, principal.scope.staff_id, time.time())


@router.post("/rebuild")
def rebuild(principal: PrincipalDep, session: SessionDep) -> RebuildReport:
    """Recompute the daily table from the case ledger (center admins)."""
    principal.scope.require(Action.STATS_MANAGE)
    t0 = time.perf_counter()
    rows = aggregate.rebuild(session)
    session.commit()
    return RebuildReport(rows=rows, seconds=round(time.perf_counter() - t0, 3))
