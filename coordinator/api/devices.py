"""``/api/v1/devices``: every device of every agent, filtered by status, kind or agent."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlmodel import col, select

from coordinator.api.deps import Authenticated, SessionDep
from coordinator.models import Device, DevicePublic, DevicesPublic
from protocols.messages import DeviceStatus

router = APIRouter(prefix="/api/v1/devices", tags=["devices"], dependencies=[Authenticated])


@router.get("")
def list_devices(
    session: SessionDep,
    status: Annotated[DeviceStatus | None, Query(description="up, degraded, down or unknown")] = None,
    kind: Annotated[str | None, Query(max_length=64)] = None,
    agent_id: Annotated[str | None, Query(max_length=64)] = None,
) -> DevicesPublic:
    query = select(Device)
    if status is not None:
        query = query.where(Device.status == status.value)
    if kind is not None:
        query = query.where(Device.kind == kind)
    if agent_id is not None:
        query = query.where(Device.agent_id == agent_id)
    rows = session.exec(query.order_by(col(Device.agent_id), col(Device.device_id))).all()
    data = [DevicePublic.model_validate(d, from_attributes=True) for d in rows]
    return DevicesPublic(data=data, count=len(data))
