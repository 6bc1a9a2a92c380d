"""Commands to devices and their results (each result recorded once per agent message id)."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from pydantic import ConfigDict, JsonValue
from sqlmodel import Field, SQLModel

from protocols.messages import Name


class CommandStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DONE = "done"
    FAILED = "failed"
    REJECTED = "rejected"
    EXPIRED = "expired"


OPEN_STATUSES = (CommandStatus.PENDING.value, CommandStatus.SENT.value)


class CommandBase(SQLModel):
    cmd_id: uuid.UUID = Field(primary_key=True)
    agent_id: str = Field(max_length=64)
    device_id: str = Field(max_length=64)
    action: str = Field(max_length=64)
    status: str = Field(CommandStatus.PENDING.value, max_length=16)
    created_at: float
    sent_at: float | None = Field(None, description="first publication")
    last_sent_at: float | None = Field(None, description="latest publication (open commands are republished)")
    attempts: int = Field(0, description="publications so far")
    expires_at: float
    finished_at: float | None = None
    error: str | None = Field(None, max_length=1024)


class CommandRow(CommandBase, table=True):
    __tablename__ = "command"
    __table_args__ = (
        sa.Index("ix_command_status_expires_at", "status", "expires_at"),
        sa.Index("ix_command_agent_id", "agent_id"),
    )

    args: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    result: dict[str, Any] | None = Field(None, sa_column=sa.Column(sa.JSON, nullable=True))


class CommandCreate(SQLModel):
    """What the API accepts: ``POST /api/v1/agents/{agent}/devices/{device}/commands``."""

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    action: Name
    args: dict[str, JsonValue] = {}
    ttl_s: float | None = Field(None, gt=0, le=7 * 86400, description="default: the coordinator's setting")


class CommandPublic(CommandBase):
    args: dict[str, Any]
    result: dict[str, Any] | None


class CommandsPublic(SQLModel):
    data: list[CommandPublic]
    count: int


class CommandResult(SQLModel, table=True):
    """One row per ``up/result`` message committed: dedupes results under (agent id, message id)."""

    __tablename__ = "command_result"

    agent_id: str = Field(primary_key=True, max_length=64)
    msg_id: uuid.UUID = Field(primary_key=True)
    seq: int = Field(sa_type=sa.BigInteger)
    cmd_id: uuid.UUID = Field(index=False)
    status: str = Field(max_length=16)
    received_at: float
