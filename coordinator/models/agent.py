"""Agents: presence, outbox synchronisation (epoch, high-water mark) and inventory stream position."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from coordinator.models.device import DevicePublic


class AgentBase(SQLModel):
    id: str = Field(primary_key=True, max_length=64)
    online: bool = False
    boot: int = Field(0, sa_type=sa.BigInteger)
    version: str = Field("", max_length=64)
    last_seen: float | None = None
    online_since: float | None = None
    birth_at: float | None = None
    outbox_depth: int = Field(0, sa_type=sa.BigInteger)
    outbox_refused: int = Field(0, sa_type=sa.BigInteger)


class Agent(AgentBase, table=True):
    __tablename__ = "agent"

    outbox_epoch: str | None = Field(None, max_length=64, description="None until a birth was seen")
    outbox_hwm: int = Field(0, sa_type=sa.BigInteger, description="highest outbox seq committed")
    inventory_boot: int = Field(0, sa_type=sa.BigInteger, description="boot of the last birth seen")
    inventory_seq: int = Field(
        0, sa_type=sa.BigInteger, description="last inventory seq received in inventory_boot"
    )
    keepalive_s: int = 0


class AgentPublic(AgentBase):
    outbox_hwm: int
    device_count: int


class AgentsPublic(SQLModel):
    data: list[AgentPublic]
    count: int


class InventoryPublic(SQLModel):
    boot: int
    seq: int
    outbox_epoch: str | None
    keepalive_s: int


class AgentDetail(AgentPublic):
    inventory: InventoryPublic
    devices: list[DevicePublic]
