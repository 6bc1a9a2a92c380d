"""Conferences of video terminals: the schedule, and each participating terminal's place in it.

    Conference        -- title, conference address, start/end, status (scheduled → running → ended | cancelled)
    Participant       -- one terminal (agent, device) in a conference: role, call state, attempts, drops
    ConferenceCreate  -- what ``POST /api/v1/conferences`` accepts
    ConferencePublic, ConferenceDetail (with the roll call), ParticipantPublic, ConferencesPublic

Times are Unix seconds (float), as everywhere in the coordinator.
"""

from __future__ import annotations

import time
import uuid
from enum import StrEnum
from typing import Annotated

import sqlalchemy as sa
from pydantic import Field as PydanticField
from pydantic import model_validator
from sqlmodel import Field, SQLModel

from protocols.messages import Id
from protocols.terminal import ADDRESS_RE

MAX_PARTICIPANTS = 500


class ConferenceStatus(StrEnum):
    SCHEDULED = "scheduled"
    RUNNING = "running"
    ENDED = "ended"
    CANCELLED = "cancelled"


class Role(StrEnum):
    MAIN = "main"
    BRANCH = "branch"


class ParticipantState(StrEnum):
    WAITING = "waiting"  # conference not started yet
    DIALING = "dialing"  # a dial command is out
    CONNECTED = "connected"
    DROPPED = "dropped"  # was connected, the call ended: redialled
    FAILED = "failed"  # a dial failed: redialled after a backoff
    HANGING_UP = "hanging_up"  # conference over, hang-up command out
    HUNG_UP = "hung_up"


class Conference(SQLModel, table=True):
    __tablename__ = "conference"
    __table_args__ = (sa.Index("ix_conference_status_start_at", "status", "start_at"),)

    id: uuid.UUID = Field(primary_key=True)
    title: str = Field(max_length=200)
    address: str = Field(max_length=128)
    start_at: float
    end_at: float
    status: str = Field(default=ConferenceStatus.SCHEDULED.value, max_length=16)
    created_at: float
    started_at: float | None = None
    ended_at: float | None = None


class Participant(SQLModel, table=True):
    __tablename__ = "conference_participant"
    __table_args__ = (sa.Index("ix_conference_participant_terminal", "agent_id", "device_id"),)

    conference_id: uuid.UUID = Field(
        sa_column=sa.Column(sa.Uuid(), sa.ForeignKey("conference.id", ondelete="CASCADE"), primary_key=True)
    )
    agent_id: str = Field(primary_key=True, max_length=64)
    device_id: str = Field(primary_key=True, max_length=64)
    role: str = Field(default=Role.BRANCH.value, max_length=8)
    state: str = Field(default=ParticipantState.WAITING.value, max_length=16)
    muted: bool = False
    attempts: int = Field(default=0, description="dial commands sent")
    drops: int = Field(default=0, description="times the call ended while the conference ran")
    cmd_id: uuid.UUID | None = Field(default=None, description="the dial or hang-up command in flight")
    next_dial_at: float | None = None
    joined_at: float | None = Field(default=None, description="first connected")
    connected_since: float | None = None
    changed_at: float | None = None
    last_error: str | None = Field(default=None, max_length=1024)


Address = Annotated[str, PydanticField(pattern=ADDRESS_RE.pattern)]


class TerminalRef(SQLModel):
    agent_id: Id
    device_id: Id


class ConferenceCreate(SQLModel):
    """A conference: the main venue's terminal and the branch venues' terminals, dialled at ``start_at``."""

    title: str = Field(min_length=1, max_length=200)
    address: Address = Field(description="conference address every terminal dials (e.g. meeting-42@mcu)")
    start_at: float | None = Field(None, description="Unix time; default now")
    end_at: float = Field(description="Unix time; all terminals are hung up then")
    main: TerminalRef
    branches: list[TerminalRef] = Field(min_length=1, max_length=MAX_PARTICIPANTS - 1)

    @model_validator(mode="after")
    def _check(self) -> ConferenceCreate:
        start = self.start_at if self.start_at is not None else time.time()
        if self.end_at <= start:
            raise ValueError("end_at must be after start_at")
        refs = [(t.agent_id, t.device_id) for t in [self.main, *self.branches]]
        if len(set(refs)) != len(refs):
            raise ValueError("a terminal appears twice")
        return self


class ParticipantPublic(SQLModel):
    agent_id: str
    device_id: str
    role: str
    state: str
    muted: bool
    attempts: int
    drops: int
    joined_at: float | None
    connected_since: float | None
    changed_at: float | None
    last_error: str | None
    agent_online: bool = False
    device_status: str = "unknown"
    packet_loss_percent: float | None = None
    bitrate_kbps: float | None = None
    jitter_ms: float | None = None


class ConferencePublic(SQLModel):
    id: uuid.UUID
    title: str
    address: str
    start_at: float
    end_at: float
    status: str
    created_at: float
    started_at: float | None
    ended_at: float | None


class ConferenceDetail(ConferencePublic):
    connected: int = Field(description="participants connected now")
    participants: list[ParticipantPublic] = Field(description="the roll call: main venue first")


class ConferencesPublic(SQLModel):
    data: list[ConferencePublic]
    count: int
