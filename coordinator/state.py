"""The live state: what the coordinator knows about agents and devices right now, in memory.

Copy-on-write: the ingest writer builds new :class:`AgentLive` objects for the agents a batch touches and swaps
them in after the batch's transaction commits; a published object is never changed again. Readers (metrics,
API) therefore take a snapshot under the lock and read it without one. Telemetry readings, ``last_seen`` and
outbox depth live here only; the registry tables hold the rest (see ``coordinator.models``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from coordinator.models import Agent, Device


@dataclass(frozen=True, slots=True)
class ReadingLive:
    value: float
    unit: str


@dataclass(slots=True)
class DeviceLive:
    device_id: str
    kind: str = ""
    model: str = ""
    profile: str = ""
    profile_version: str = ""
    capabilities: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    status: str = "unknown"
    reason: str = ""
    last_error: str | None = None
    since: float | None = None
    updated_at: float | None = None


@dataclass(slots=True)
class AgentLive:
    id: str
    online: bool = False
    boot: int = 0
    version: str = ""
    last_seen: float | None = None
    online_since: float | None = None
    birth_at: float | None = None
    outbox_epoch: str | None = None
    outbox_hwm: int = 0
    outbox_depth: int = 0
    outbox_refused: int = 0
    inventory_boot: int = 0
    inventory_seq: int = 0
    keepalive_s: int = 0
    devices: dict[str, DeviceLive] = field(default_factory=dict)
    readings: dict[tuple[str, str], ReadingLive] = field(default_factory=dict)

    @property
    def known(self) -> bool:
        """True once a birth was seen (the outbox epoch and high-water mark are meaningful)."""
        return self.outbox_epoch is not None

    def copy(self) -> AgentLive:
        return replace(
            self,
            devices={k: replace(d) for k, d in self.devices.items()},
            readings=dict(self.readings),
        )

    def row(self) -> dict[str, object]:
        """The ``agents`` row of this agent."""
        return {
            "id": self.id,
            "online": self.online,
            "boot": self.boot,
            "version": self.version,
            "last_seen": self.last_seen,
            "online_since": self.online_since,
            "birth_at": self.birth_at,
            "outbox_epoch": self.outbox_epoch,
            "outbox_hwm": self.outbox_hwm,
            "outbox_depth": self.outbox_depth,
            "outbox_refused": self.outbox_refused,
            "inventory_boot": self.inventory_boot,
            "inventory_seq": self.inventory_seq,
            "keepalive_s": self.keepalive_s,
        }


def device_row(agent_id: str, d: DeviceLive) -> dict[str, object]:
    return {
        "agent_id": agent_id,
        "device_id": d.device_id,
        "kind": d.kind,
        "model": d.model,
        "profile": d.profile,
        "profile_version": d.profile_version,
        "capabilities": d.capabilities,
        "commands": d.commands,
        "status": d.status,
        "reason": d.reason,
        "last_error": d.last_error,
        "since": d.since,
        "updated_at": d.updated_at,
    }


class LiveState:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._agents: dict[str, AgentLive] = {}

    def load(self, agents: Iterable[Agent], devices: Iterable[Device]) -> None:
        """Fill from the registry tables (at start-up)."""
        loaded = {
            a.id: AgentLive(**{k: v for k, v in a.model_dump().items() if k in AgentLive.__slots__})
            for a in agents
        }
        for d in devices:
            agent = loaded.get(d.agent_id)
            if agent is not None:
                values = {k: v for k, v in d.model_dump().items() if k in DeviceLive.__slots__}
                agent.devices[d.device_id] = DeviceLive(**values)
        with self._lock:
            self._agents = loaded

    def get(self, agent_id: str) -> AgentLive | None:
        with self._lock:
            return self._agents.get(agent_id)

    def snapshot(self) -> list[AgentLive]:
        with self._lock:
            return list(self._agents.values())

    def remove(self, agent_id: str) -> None:
        """Forget an agent (decommissioned); its registry rows are kept."""
        with self._lock:
            self._agents.pop(agent_id, None)

    def publish(self, agents: Iterable[AgentLive]) -> None:
        """Swap in new versions of agents (after their batch committed)."""
        with self._lock:
            for a in agents:
                self._agents[a.id] = a
