"""``/api/v1/conferences``: schedule a conference of video terminals, follow its roll call, end it."""

from __future__ import annotations

import time
import uuid
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, Query, status
from sqlmodel import Session, col, select

from coordinator.api.deps import Authenticated, CoordinatorDep, SessionDep
from coordinator.errors import NotFoundError
from coordinator.models.conference import (
    Conference,
    ConferenceCreate,
    ConferenceDetail,
    ConferencePublic,
    ConferencesPublic,
    ConferenceStatus,
    Participant,
    ParticipantPublic,
    ParticipantState,
    Role,
)
from coordinator.runtime import Coordinator
from protocols.ids import uuid7

router = APIRouter(prefix="/api/v1/conferences", tags=["conferences"], dependencies=[Authenticated])

TERMINAL_KIND = "terminal"


@router.post("", status_code=status.HTTP_201_CREATED)
def create_conference(
    req: ConferenceCreate, session: SessionDep, coordinator: CoordinatorDep
) -> ConferenceDetail:
    """Schedule a conference: at ``start_at`` every terminal dials ``address``; at ``end_at`` all hang up.

    Every terminal must be a registered device of kind ``terminal`` (422 names the one that is not).
    """
    for ref in [req.main, *req.branches]:
        agent = coordinator.live.get(ref.agent_id)
        device = agent.devices.get(ref.device_id) if agent is not None else None
        if device is None or device.kind != TERMINAL_KIND:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"{ref.agent_id}/{ref.device_id} is not a registered video terminal",
            )
    now = time.time()
    conf = Conference(
        id=uuid7(),
        title=req.title,
        address=req.address,
        start_at=req.start_at if req.start_at is not None else now,
        end_at=req.end_at,
        status=ConferenceStatus.SCHEDULED.value,
        created_at=now,
    )
    session.add(conf)
    session.flush()
    for role, refs in ((Role.MAIN, [req.main]), (Role.BRANCH, req.branches)):
        for ref in refs:
            session.add(
                Participant(
                    conference_id=conf.id, agent_id=ref.agent_id, device_id=ref.device_id, role=role.value
                )
            )
    session.commit()
    return get_conference(conf.id, session, coordinator)


@router.get("")
def list_conferences(
    session: SessionDep,
    status: Annotated[ConferenceStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ConferencesPublic:
    """Newest start first."""
    query = select(Conference)
    if status is not None:
        query = query.where(Conference.status == status.value)
    rows = session.exec(query.order_by(col(Conference.start_at).desc()).limit(limit)).all()
    data = [ConferencePublic.model_validate(r, from_attributes=True) for r in rows]
    return ConferencesPublic(data=data, count=len(data))


@router.get("/{conference_id}")
def get_conference(
    conference_id: uuid.UUID, session: SessionDep, coordinator: CoordinatorDep
) -> ConferenceDetail:
    """The conference and its live roll call (main venue first), with each terminal's call statistics."""
    conf = session.get(Conference, conference_id)
    if conf is None:
        raise NotFoundError(f"no conference {conference_id}")
    return _detail(conf, session, coordinator)


@router.post("/{conference_id}/end")
def end_conference(
    conference_id: uuid.UUID, session: SessionDep, coordinator: CoordinatorDep
) -> ConferenceDetail:
    """End a running conference now (all terminals hang up), or cancel a scheduled one."""
    conf = session.get(Conference, conference_id)
    if conf is None:
        raise NotFoundError(f"no conference {conference_id}")
    now = time.time()
    if conf.status == ConferenceStatus.SCHEDULED.value:
        conf.status = ConferenceStatus.CANCELLED.value
        conf.ended_at = now
        session.exec(
            sa.update(Participant)
            .where(col(Participant.conference_id) == conf.id)
            .values(state=ParticipantState.HUNG_UP.value, changed_at=now)
        )
    elif conf.status == ConferenceStatus.RUNNING.value:
        conf.end_at = min(conf.end_at, now)  # the conference service hangs up on its next tick
    session.add(conf)
    session.commit()
    session.refresh(conf)
    return _detail(conf, session, coordinator)


def _detail(conf: Conference, session: Session, coordinator: Coordinator) -> ConferenceDetail:
    rows = session.exec(select(Participant).where(Participant.conference_id == conf.id)).all()
    roll = [_participant(p, coordinator) for p in rows]
    roll.sort(key=lambda p: (p.role != Role.MAIN.value, p.agent_id, p.device_id))
    return ConferenceDetail(
        **ConferencePublic.model_validate(conf, from_attributes=True).model_dump(),
        connected=sum(1 for p in roll if p.state == ParticipantState.CONNECTED.value),
        participants=roll,
    )


def _participant(p: Participant, coordinator: Coordinator) -> ParticipantPublic:
    out = ParticipantPublic.model_validate(p, from_attributes=True)
    agent = coordinator.live.get(p.agent_id)
    if agent is None:
        return out
    device = agent.devices.get(p.device_id)

    def reading(point: str) -> float | None:
        r = agent.readings.get((p.device_id, point))
        return r.value if r is not None else None

    return out.model_copy(
        update={
            "agent_online": agent.online,
            "device_status": (device.status if device is not None else "unknown")
            if agent.online
            else "unknown",
            "packet_loss_percent": reading("packet_loss_percent"),
            "bitrate_kbps": reading("bitrate_kbps"),
            "jitter_ms": reading("jitter_ms"),
        }
    )
