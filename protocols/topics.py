"""Every MQTT topic string of hallmesh (DESIGN.md §4), built and parsed here and nowhere else.

Topic root per agent: ``hallmesh/v1/{agent_id}/``; the agent id is the CN of the agent's certificate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from protocols.errors import TopicError

ROOT: Final = "hallmesh/v1"
COORDINATOR_ID: Final = "coordinator"

# Agent and device ids fill exactly one topic level and are safe in file names and metric labels.
ID_PATTERN: Final = r"[a-z0-9][a-z0-9_.-]{0,62}"
_ID_RE: Final = re.compile(rf"^{ID_PATTERN}$")


class Channel(StrEnum):
    """What a topic carries; also the ``kind`` of the envelope sent on it."""

    STATE = "state"
    BIRTH = "birth"
    DEV_STATE = "dev_state"
    TELEMETRY = "telemetry"
    EVENT = "event"
    RESULT = "result"
    TILE = "tile"
    CMD = "cmd"
    ACK = "ack"
    CONFIG = "config"
    COORDINATOR_STATE = "coordinator_state"


UP_CHANNELS: Final = frozenset(
    {
        Channel.STATE,
        Channel.BIRTH,
        Channel.DEV_STATE,
        Channel.TELEMETRY,
        Channel.EVENT,
        Channel.RESULT,
        Channel.TILE,
    }
)
DOWN_CHANNELS: Final = frozenset({Channel.CMD, Channel.ACK, Channel.CONFIG})


def is_valid_id(value: str) -> bool:
    """True if ``value`` may be used as an agent or device id."""
    return bool(_ID_RE.match(value))


def _check_id(value: str, what: str) -> str:
    if not is_valid_id(value):
        raise TopicError(f"invalid {what} {value!r}: must match {ID_PATTERN}")
    return value


def agent_root(agent_id: str) -> str:
    return f"{ROOT}/{_check_id(agent_id, 'agent id')}"


def state(agent_id: str) -> str:
    return f"{agent_root(agent_id)}/up/state"


def birth(agent_id: str) -> str:
    return f"{agent_root(agent_id)}/up/birth"


def dev_state(agent_id: str, device_id: str) -> str:
    return f"{agent_root(agent_id)}/up/dev/{_check_id(device_id, 'device id')}/state"


def telemetry(agent_id: str) -> str:
    return f"{agent_root(agent_id)}/up/telemetry"


def event(agent_id: str) -> str:
    return f"{agent_root(agent_id)}/up/event"


def result(agent_id: str) -> str:
    return f"{agent_root(agent_id)}/up/result"


def tile(agent_id: str, device_id: str) -> str:
    return f"{agent_root(agent_id)}/up/tile/{_check_id(device_id, 'device id')}"


def cmd(agent_id: str) -> str:
    return f"{agent_root(agent_id)}/down/cmd"


def ack(agent_id: str) -> str:
    return f"{agent_root(agent_id)}/down/ack"


def config(agent_id: str) -> str:
    return f"{agent_root(agent_id)}/down/config"


def coordinator_state() -> str:
    return f"{ROOT}/{COORDINATOR_ID}/state"


def agent_down_filter(agent_id: str) -> str:
    """What an agent subscribes to: all of its ``down/`` topics."""
    return f"{agent_root(agent_id)}/down/#"


def all_up_filter() -> str:
    """What the coordinator subscribes to: every agent's ``up/`` topics."""
    return f"{ROOT}/+/up/#"


def shared_up_filter(group: str) -> str:
    """Shared subscription (MQTT 5 / Mosquitto) for several coordinator processes."""
    return f"$share/{group}/{all_up_filter()}"


@dataclass(frozen=True, slots=True)
class Topic:
    """A parsed topic."""

    channel: Channel
    agent_id: str
    device_id: str | None = None


_UP_SIMPLE: Final = {
    "state": Channel.STATE,
    "birth": Channel.BIRTH,
    "telemetry": Channel.TELEMETRY,
    "event": Channel.EVENT,
    "result": Channel.RESULT,
}
_DOWN_SIMPLE: Final = {"cmd": Channel.CMD, "ack": Channel.ACK, "config": Channel.CONFIG}


def parse(topic: str) -> Topic:
    """Parse a topic string; raise :class:`TopicError` naming what does not fit."""
    if topic == coordinator_state():
        return Topic(Channel.COORDINATOR_STATE, COORDINATOR_ID)
    parts = topic.split("/")
    if len(parts) < 5 or f"{parts[0]}/{parts[1]}" != ROOT:
        raise TopicError(f"topic {topic!r} is not under {ROOT}/<agent>/up|down/…")
    agent_id = parts[2]
    if not is_valid_id(agent_id) or agent_id == COORDINATOR_ID:
        raise TopicError(f"topic {topic!r}: invalid agent id {agent_id!r}")
    direction, rest = parts[3], parts[4:]
    if direction == "up":
        if len(rest) == 1 and rest[0] in _UP_SIMPLE:
            return Topic(_UP_SIMPLE[rest[0]], agent_id)
        if len(rest) == 3 and rest[0] == "dev" and rest[2] == "state" and is_valid_id(rest[1]):
            return Topic(Channel.DEV_STATE, agent_id, rest[1])
        if len(rest) == 2 and rest[0] == "tile" and is_valid_id(rest[1]):
            return Topic(Channel.TILE, agent_id, rest[1])
    elif direction == "down" and len(rest) == 1 and rest[0] in _DOWN_SIMPLE:
        return Topic(_DOWN_SIMPLE[rest[0]], agent_id)
    raise TopicError(f"topic {topic!r}: unknown channel {'/'.join(parts[3:])!r}")
