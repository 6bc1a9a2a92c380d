"""Events from agents' outboxes, inserted exactly once under the unique (agent id, message id)."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite autoincrements INTEGER PRIMARY KEY only


class EventBase(SQLModel):
    agent_id: str = Field(max_length=64)
    msg_id: uuid.UUID
    seq: int = Field(sa_type=sa.BigInteger)
    boot: int = Field(sa_type=sa.BigInteger)
    ts: float
    device_id: str = Field(max_length=64)
    type: str = Field(max_length=64)
    received_at: float


class Event(EventBase, table=True):
    __tablename__ = "event"
    __table_args__ = (
        sa.UniqueConstraint("agent_id", "msg_id", name="uq_event_agent_msg"),
        sa.Index("ix_event_agent_id_id", "agent_id", "id"),
    )

    id: int | None = Field(None, sa_column=sa.Column(BigId, primary_key=True, autoincrement=True))
    data: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))


class EventPublic(EventBase):
    id: int
    data: dict[str, Any]


class EventsPublic(SQLModel):
    data: list[EventPublic]
    count: int
    next_after_id: int = Field(description="pass as after_id to get the following page")
