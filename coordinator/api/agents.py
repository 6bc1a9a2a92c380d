"""``/api/v1/agents``: the registry of agents with presence, outbox and inventory state."""

from __future__ import annotations

from fastapi import APIRouter
from sqlmodel import Session, col, func, select

from coordinator.api.deps import Authenticated, CoordinatorDep, SessionDep
from coordinator.errors import NotFoundError
from coordinator.models import (
    Agent,
    AgentDetail,
    AgentPublic,
    AgentsPublic,
    Device,
    DevicePublic,
    InventoryPublic,
)
from coordinator.runtime import Coordinator

router = APIRouter(prefix="/api/v1/agents", tags=["agents"], dependencies=[Authenticated])


def agent_public(agent: Agent, device_count: int, coordinator: Coordinator) -> AgentPublic:
    data = agent.model_dump()
    live = coordinator.live.get(agent.id)
    if live is not None:  # in-memory only: last_seen and outbox figures from telemetry
        data.update(
            last_seen=live.last_seen,
            outbox_depth=live.outbox_depth,
            outbox_refused=live.outbox_refused,
            online=live.online,
        )
    return AgentPublic(**data, device_count=device_count)


def get_agent_row(session: Session, agent_id: str) -> Agent:
    agent = session.get(Agent, agent_id)
    if agent is None:
        raise NotFoundError(f"agent {agent_id!r} is not registered")
    return agent


@router.get("")
def list_agents(session: SessionDep, coordinator: CoordinatorDep) -> AgentsPublic:
    counts = dict(session.exec(select(Device.agent_id, func.count()).group_by(col(Device.agent_id))).all())
    agents = session.exec(select(Agent).order_by(col(Agent.id))).all()
    data = [agent_public(a, counts.get(a.id, 0), coordinator) for a in agents]
    return AgentsPublic(data=data, count=len(data))


@router.get("/{agent_id}")
def get_agent(agent_id: str, session: SessionDep, coordinator: CoordinatorDep) -> AgentDetail:
    agent = get_agent_row(session, agent_id)
    devices = session.exec(
        select(Device).where(Device.agent_id == agent_id).order_by(col(Device.device_id))
    ).all()
    public = agent_public(agent, len(devices), coordinator)
    return AgentDetail(
        **public.model_dump(),
        inventory=InventoryPublic(
            boot=agent.inventory_boot,
            seq=agent.inventory_seq,
            outbox_epoch=agent.outbox_epoch,
            keepalive_s=agent.keepalive_s,
        ),
        devices=[DevicePublic.model_validate(d, from_attributes=True) for d in devices],
    )
