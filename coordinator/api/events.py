"""``GET /api/v1/agents/{agent_id}/events``: an agent's events in commit order, paged by id."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlmodel import col, select

from coordinator.api.agents import get_agent_row
from coordinator.api.deps import Authenticated, SessionDep
from coordinator.models import Event, EventPublic, EventsPublic

router = APIRouter(prefix="/api/v1/agents", tags=["events"], dependencies=[Authenticated])


@router.get("/{agent_id}/events")
def list_events(
    agent_id: str,
    session: SessionDep,
    after_id: Annotated[int, Query(ge=0, description="return events with a larger id")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> EventsPublic:
    get_agent_row(session, agent_id)
    rows = session.exec(
        select(Event)
        .where(Event.agent_id == agent_id, col(Event.id) > after_id)
        .order_by(col(Event.id))
        .limit(limit)
    ).all()
    data = [EventPublic.model_validate(r, from_attributes=True) for r in rows]
    return EventsPublic(data=data, count=len(data), next_after_id=data[-1].id if data else after_id)
