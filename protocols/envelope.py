"""The envelope around every JSON message of the contract, and the decoder that guards the coordinator.

    {"v": 1, "id": "<uuid7>", "agent": "<agent id>", "boot": 3, "seq": 17, "ts": 1764320000.25,
     "kind": "event", "body": {...}}

``seq`` counts per boot and per stream: ``presence`` (state), ``inventory`` (birth, dev_state),
``telemetry``. Outbox messages (event, result) carry the outbox's own seq instead, which is persistent and
increases across boots, so the coordinator can keep each agent's events in order and spot gaps.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Annotated, Final, Generic, Literal, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from protocols import topics
from protocols.errors import DecodeError, TopicError
from protocols.ids import uuid7
from protocols.messages import (
    PROTOCOL_VERSION,
    AckBody,
    BirthBody,
    Body,
    CommandBody,
    ConfigBody,
    CoordinatorStateBody,
    DevStateBody,
    EventBody,
    NonNegative,
    ResultBody,
    StateBody,
    TelemetryBody,
    Timestamp,
)
from protocols.topics import Channel

MAX_PAYLOAD_BYTES: Final = 256 * 1024
"""Largest JSON message accepted; larger payloads (scans, PDFs) go to the blob store, not MQTT."""

B = TypeVar("B", bound=Body)

SENDER_PATTERN: Final = f"^({topics.ID_PATTERN})$"


class Envelope(BaseModel, Generic[B]):
    model_config = ConfigDict(extra="ignore", frozen=True)

    v: Literal[1]
    id: uuid.UUID
    agent: Annotated[str, Field(pattern=SENDER_PATTERN)]
    boot: NonNegative
    seq: NonNegative
    ts: Timestamp
    kind: Channel
    body: B


class _Header(BaseModel):
    """Only the version, checked first so a future version is reported as such, not as a bad body."""

    model_config = ConfigDict(extra="ignore")
    v: int


BODY_TYPES: Final[dict[Channel, type[Body]]] = {
    Channel.STATE: StateBody,
    Channel.BIRTH: BirthBody,
    Channel.DEV_STATE: DevStateBody,
    Channel.TELEMETRY: TelemetryBody,
    Channel.EVENT: EventBody,
    Channel.RESULT: ResultBody,
    Channel.CMD: CommandBody,
    Channel.ACK: AckBody,
    Channel.CONFIG: ConfigBody,
    Channel.COORDINATOR_STATE: CoordinatorStateBody,
}

_ADAPTERS: Final = {ch: TypeAdapter(Envelope[bt]) for ch, bt in BODY_TYPES.items()}  # type: ignore[valid-type]


def make(
    kind: Channel, agent: str, boot: int, seq: int, body: B, *, msg_id: uuid.UUID | None = None
) -> Envelope[B]:
    """Build an envelope with a fresh UUIDv7 id and the current time."""
    if BODY_TYPES.get(kind) is not type(body):
        raise TypeError(f"body {type(body).__name__} does not belong on channel {kind}")
    model = cast("type[Envelope[B]]", Envelope.__class_getitem__(type(body)))
    return model(
        v=PROTOCOL_VERSION,
        id=msg_id or uuid7(),
        agent=agent,
        boot=boot,
        seq=seq,
        ts=time.time(),
        kind=kind,
        body=body,
    )


def encode(envelope: Envelope[B]) -> bytes:
    return envelope.model_dump_json().encode()


def _summarise(err: ValidationError) -> str:
    parts = []
    for e in err.errors()[:3]:
        loc = ".".join(str(p) for p in e["loc"]) or "(root)"
        parts.append(f"{loc}: {e['msg']}")
    more = err.error_count() - 3
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


def decode(topic: str, payload: bytes | bytearray) -> tuple[topics.Topic, Envelope[Body]]:
    """Decode a JSON message received on ``topic``; raise :class:`DecodeError` saying what is wrong.

    Checks, in order: the topic is part of the contract, the size, JSON syntax, the protocol version,
    the envelope fields, the kind against the topic, the body against its model, the sender (the topic's agent
    id on ``up/`` topics, ``coordinator`` on ``down/`` ones), and for ``dev_state`` the device against the
    topic's device id.
    """
    try:
        parsed = topics.parse(topic)
    except TopicError as err:
        raise DecodeError("unknown_topic", str(err)) from err
    if parsed.channel is Channel.TILE:
        raise DecodeError("unknown_topic", f"{topic!r} carries binary tiles, not JSON messages")
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise DecodeError("too_large", f"{len(payload)} bytes, limit {MAX_PAYLOAD_BYTES}")
    env = _fast_validate(parsed.channel, payload) or _validate(parsed.channel, payload)
    # The envelope names its sender: the agent on up/ topics, the coordinator on down/ ones (protocol.md).
    if parsed.channel in topics.DOWN_CHANNELS:
        if env.agent != topics.COORDINATOR_ID:
            raise DecodeError("agent_mismatch", f"envelope agent {env.agent!r} on a down topic")
    elif parsed.channel is not Channel.COORDINATOR_STATE and env.agent != parsed.agent_id:
        raise DecodeError("agent_mismatch", f"envelope agent {env.agent!r} on topic of {parsed.agent_id!r}")
    if isinstance(env.body, DevStateBody) and env.body.device != parsed.device_id:
        raise DecodeError(
            "device_mismatch", f"body device {env.body.device!r} on topic of {parsed.device_id!r}"
        )
    return parsed, env


def _fast_validate(channel: Channel, payload: bytes | bytearray) -> Envelope[Body] | None:
    """Parse and validate in one pass (pydantic's JSON parser); None for anything not plainly valid.

    The ingest hot path: a valid message costs about a quarter of the two-step path below, which is kept for
    rejected payloads because it tells exactly which rule they break.
    """
    try:
        env: Envelope[Body] = _ADAPTERS[channel].validate_json(payload)
    except ValidationError:
        return None
    return env if env.kind is channel else None


def _validate(channel: Channel, payload: bytes | bytearray) -> Envelope[Body]:
    """JSON syntax, then the version, then the kind, then the fields: the first rule broken is the reason."""
    try:
        raw = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise DecodeError("not_json", f"payload is not UTF-8 JSON: {err}") from err
    if not isinstance(raw, dict):
        raise DecodeError("bad_envelope", f"payload is a JSON {type(raw).__name__}, expected an object")
    try:
        version = _Header.model_validate(raw).v
    except ValidationError as err:
        raise DecodeError("bad_envelope", _summarise(err)) from err
    if version != PROTOCOL_VERSION:
        raise DecodeError("unsupported_version", f"v={version}, this side speaks v={PROTOCOL_VERSION}")
    kind = raw.get("kind")
    if kind != channel.value:
        raise DecodeError("kind_mismatch", f"kind {kind!r} sent on a {channel.value!r} topic")
    try:
        env: Envelope[Body] = _ADAPTERS[channel].validate_python(raw)
    except ValidationError as err:
        reason: Literal["bad_body", "bad_envelope"] = (
            "bad_body"
            if all(len(e["loc"]) > 1 and e["loc"][0] == "body" for e in err.errors())
            else "bad_envelope"
        )
        raise DecodeError(reason, _summarise(err)) from err
    return env
