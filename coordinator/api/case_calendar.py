"""``/api/v1/calendar``: the working-day calendar per region (``CN`` national, or a unit's code) — read by
everyone signed in, edited by center admins for their own unit or below (``CN`` only from the region's root)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Query, status
from sqlmodel import Session, select

from coordinator.api.deps import SessionDep
from coordinator.api.principal import PrincipalDep
from coordinator.models.case import CalendarDayIn, CalendarDayPublic
from workflow import calendar
from workflow.errors import NotFound
from workflow.org import OrgUnit
from workflow.scope import Action, Scope

router = APIRouter(prefix="/api/v1/calendar", tags=["calendar"])
Region = Annotated[str, Path(pattern=r"^(CN|[0-9]{12})$", description="CN or a unit's 12-digit code")]


def _check_region(session: Session, scope: Scope, region: str) -> None:
    if region == calendar.NATIONAL:
        if session.exec(select(OrgUnit.parent_id).where(OrgUnit.id == scope.unit_id)).first() is not None:
            raise NotFound("地区不存在")
        return
    unit_id = session.exec(select(OrgUnit.id).where(OrgUnit.code == region)).first()
    if unit_id is None:
        raise NotFound("地区不存在")
    scope.get(session, OrgUnit, unit_id)


@router.get("/{region}")
def year(region: Region, principal: PrincipalDep, session: SessionDep,
         year: Annotated[int, Query(ge=2000, le=2100)]) -> list[CalendarDayPublic]:  # fmt: skip
    """The region's own entries for ``year`` (holidays, adjusted working days); other days follow the weekday rule
    and, for a unit, the national entries."""
    principal.scope.require(Action.ORG_READ)
    return [
        CalendarDayPublic.model_validate(d, from_attributes=True)
        for d in calendar.days(session, region, year)
    ]


@router.put("/{region}/{day}")
def set_day(region: Region, day: dt.date, body: CalendarDayIn, principal: PrincipalDep,
            session: SessionDep) -> CalendarDayPublic:  # fmt: skip
    """Make ``day`` a working day or a day off in ``region`` (deadlines count it from the next event on)."""
    principal.scope.require(Action.CALENDAR_WRITE)
    _check_region(session, principal.scope, region)
    calendar.set_day(session, region, day, body.working, body.name)
    session.commit()
    row = session.get(calendar.CalendarDay, (region, day))
    return CalendarDayPublic.model_validate(row, from_attributes=True)


@router.delete("/{region}/{day}", status_code=status.HTTP_204_NO_CONTENT)
def clear_day(region: Region, day: dt.date, principal: PrincipalDep, session: SessionDep) -> None:
    """Remove the region's own entry for ``day``."""
    principal.scope.require(Action.CALENDAR_WRITE)
    _check_region(session, principal.scope, region)
    calendar.set_day(session, region, day, None)
    session.commit()
