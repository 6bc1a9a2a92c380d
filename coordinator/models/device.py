"""Devices of an agent, from its births (inventory) and dev_state messages (status)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class DeviceBase(SQLModel):
    agent_id: str = Field(primary_key=True, max_length=64)
    device_id: str = Field(primary_key=True, max_length=64)
    kind: str = Field("", max_length=64)
    model: str = Field("", max_length=128)
    profile: str = Field("", max_length=128)
    profile_version: str = Field("", max_length=32)
    status: str = Field("unknown", max_length=16)
    reason: str = Field("", max_length=1024)
    last_error: str | None = Field(None, max_length=1024)
    since: float | None = None
    updated_at: float | None = None


class Device(DeviceBase, table=True):
    __tablename__ = "device"
    __table_args__ = (
        sa.ForeignKeyConstraint(["agent_id"], ["agent.id"], name="fk_device_agent", ondelete="CASCADE"),
    )

    capabilities: list[str] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    commands: list[str] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))


class DevicePublic(DeviceBase):
    capabilities: list[str]
    commands: list[str]


class DevicesPublic(SQLModel):
    data: list[DevicePublic]
    count: int


def device_public(row: Any) -> DevicePublic:
    return DevicePublic.model_validate(row, from_attributes=True)
