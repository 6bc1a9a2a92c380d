"""Versioned message bodies of the MQTT contract (DESIGN.md §4), one pydantic model per channel.

Version 1. Within a version, fields may be added (receivers ignore unknown fields); removing or changing the
meaning of a field needs a new version number in the envelope.
"""

from __future__ import annotations

import math
import uuid
from enum import StrEnum
from typing import Annotated, Any, Final

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue

from protocols.topics import ID_PATTERN

PROTOCOL_VERSION: Final = 1

Id = Annotated[str, Field(pattern=f"^{ID_PATTERN}$")]
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
Text = Annotated[str, Field(max_length=1024)]
NonNegative = Annotated[int, Field(ge=0, le=2**53)]

AGENT_TARGET: Final = "@agent"
"""The ``device`` of a command addressed to the agent itself (for example ``rebirth``)."""


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


Finite = Annotated[float, AfterValidator(_finite)]
Timestamp = Annotated[float, Field(ge=0, le=4_102_444_800), AfterValidator(_finite)]


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class DeviceStatus(StrEnum):
    UP = "up"
    DEGRADED = "degraded"
    DOWN = "down"
    UNKNOWN = "unknown"


class StateBody(Body):
    """Agent presence, retained; the Will carries the same boot with ``online=False``."""

    online: bool
    boot: NonNegative
    version: Annotated[str, Field(max_length=64)]
    ts: Timestamp


class OutboxStatus(Body):
    """Where the agent's durable outbox stands; lets the coordinator resynchronise after a gap."""

    epoch: Annotated[str, Field(min_length=1, max_length=64)]
    low_seq: NonNegative = Field(description="lowest outbox seq not yet acknowledged (= next_seq if empty)")
    next_seq: NonNegative
    depth: NonNegative
    refused: NonNegative = Field(description="entries refused because the outbox was full, since creation")


class DeviceInfo(Body):
    id: Id
    kind: Name
    model: Annotated[str, Field(max_length=128)] = ""
    profile: Annotated[str, Field(max_length=128)] = ""
    profile_version: Annotated[str, Field(max_length=32)] = ""
    capabilities: Annotated[list[Name], Field(max_length=64)] = []
    commands: Annotated[list[Name], Field(max_length=64)] = []


class BirthBody(Body):
    """Full inventory, sent after every connect (and on request)."""

    version: Annotated[str, Field(max_length=64)]
    devices: Annotated[list[DeviceInfo], Field(max_length=256)]
    outbox: OutboxStatus
    keepalive_s: Annotated[int, Field(ge=1, le=3600)]


class DevStateBody(Body):
    device: Id
    status: DeviceStatus
    reason: Text = ""
    last_error: Text | None = None
    since: Timestamp


class Reading(Body):
    device: Id
    point: Name
    value: Finite
    unit: Annotated[str, Field(max_length=32)] = ""


class TelemetryBody(Body):
    readings: Annotated[list[Reading], Field(max_length=4096)]
    outbox: OutboxStatus
    inventory_seq: NonNegative = Field(description="seq of the last birth/dev_state message of this boot")


class EventBody(Body):
    """Something a device did: a capture, a signature, a print-job change, a button press."""

    device: Id
    type: Name
    data: dict[str, JsonValue] = {}


class ResultStatus(StrEnum):
    DONE = "done"
    FAILED = "failed"
    EXPIRED = "expired"
    REJECTED = "rejected"


class ResultBody(Body):
    cmd_id: uuid.UUID
    device: Annotated[str, Field(max_length=64)]
    action: Name
    status: ResultStatus
    result: dict[str, JsonValue] = {}
    error: Text | None = None


class CommandBody(Body):
    cmd_id: uuid.UUID
    device: Annotated[str, Field(max_length=64)]
    action: Name
    args: dict[str, JsonValue] = {}
    expires_at: Timestamp


class AckBody(Body):
    ids: Annotated[list[uuid.UUID], Field(max_length=10_000)]


class ConfigBody(Body):
    """Desired configuration, retained on ``down/config``."""

    telemetry_interval_s: Annotated[float, Field(gt=0, le=3600)] | None = None
    tile_rates: dict[Id, Annotated[float, Field(ge=0, le=30)]] = {}


class CoordinatorStateBody(Body):
    online: bool
    ts: Timestamp


AnyBody = (
    StateBody
    | BirthBody
    | DevStateBody
    | TelemetryBody
    | EventBody
    | ResultBody
    | CommandBody
    | AckBody
    | ConfigBody
    | CoordinatorStateBody
)


def dump_body(body: Body) -> dict[str, Any]:
    return body.model_dump(mode="json")
