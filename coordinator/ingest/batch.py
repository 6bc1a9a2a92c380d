"""One batch of inbound messages: the rules of docs/protocol.md ("Coordinator ingest") and their rows.

A :class:`Batch` works on copies of the agents it touches; :meth:`Batch.flush` writes everything in the
caller's transaction. Only after that transaction commits does the writer publish the copies to the live
state, send ``down/ack`` for :attr:`Batch.acks` and ``rebirth`` commands for :attr:`Batch.rebirths`.

Outbox stream (event, result), per agent with high-water mark ``hwm``:
``seq <= hwm`` duplicate → acked again; ``seq == hwm + 1`` inserted, hwm advanced, acked after commit;
``seq > hwm + 1`` dropped unacked (the agent's go-back-N resend fills the gap); unknown agent → rebirth.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from typing import Any

import sqlalchemy as sa

from coordinator.cases.filing import file_captures
from coordinator.ingest.receiver import Inbound
from coordinator.ingest.rows import AGENTS, DEVICES, EVENTS, RESULTS, UPDATE_COMMAND, dialect_insert, upsert
from coordinator.state import AgentLive, DeviceLive, LiveState, ReadingLive, device_row
from protocols.messages import BirthBody, DevStateBody, EventBody, ResultBody, StateBody, TelemetryBody

log = logging.getLogger(__name__)

MAX_READINGS_PER_AGENT = 1024


class Batch:
    def __init__(self, live: LiveState) -> None:
        self._live = live
        self.work: dict[str, AgentLive] = {}
        self._dirty_agents: set[str] = set()
        self._dirty_devices: dict[str, set[str]] = defaultdict(set)
        self._removed_devices: dict[str, set[str]] = defaultdict(set)
        self._events: list[dict[str, Any]] = []
        self._results: list[dict[str, Any]] = []
        self._command_updates: list[dict[str, Any]] = []
        self.acks: dict[str, list[uuid.UUID]] = defaultdict(list)
        self.rebirths: set[str] = set()
        self.duplicates = 0
        self.out_of_order = 0
        self.stale_presence = 0

    # -- working copies ----------------------------------------------------------------------------------

    def _agent(self, agent_id: str, create: bool = False) -> AgentLive | None:
        a = self.work.get(agent_id)
        if a is None:
            current = self._live.get(agent_id)
            if current is not None:
                a = current.copy()
            elif create:
                a = AgentLive(agent_id)
                self._dirty_agents.add(agent_id)
            else:
                return None
            self.work[agent_id] = a
        return a

    @property
    def has_writes(self) -> bool:
        return bool(self._dirty_agents or self._events or self._results)

    # -- dispatch ----------------------------------------------------------------------------------------

    def add(self, m: Inbound) -> None:
        body = m.env.body
        agent_id = m.topic.agent_id
        if isinstance(body, EventBody | ResultBody):
            self._outbox(agent_id, m, body)
        elif isinstance(body, TelemetryBody):
            self._telemetry(agent_id, m, body)
        elif isinstance(body, DevStateBody):
            self._dev_state(agent_id, m, body)
        elif isinstance(body, StateBody):
            self._state(agent_id, m, body)
        elif isinstance(body, BirthBody):
            self._birth(agent_id, m, body)

    # -- presence ----------------------------------------------------------------------------------------

    def _state(self, agent_id: str, m: Inbound, body: StateBody) -> None:
        a = self._agent(agent_id, create=True)
        assert a is not None
        a.last_seen = m.received_at
        if body.boot < a.boot:
            self.stale_presence += 1
            log.debug(
                "stale %s state of %s boot %d ignored (boot %d known)",
                "online" if body.online else "offline",
                agent_id,
                body.boot,
                a.boot,
            )
            return
        if body.online:
            if not a.online or body.boot > a.boot:
                a.online_since = m.received_at
            a.online = True
        else:
            a.online = False
            a.online_since = None
        a.boot = body.boot
        if body.version:
            a.version = body.version
        self._dirty_agents.add(agent_id)

    # -- inventory ---------------------------------------------------------------------------------------

    def _birth(self, agent_id: str, m: Inbound, body: BirthBody) -> None:
        a = self._agent(agent_id, create=True)
        assert a is not None
        env = m.env
        a.last_seen = m.received_at
        new_epoch = body.outbox.epoch != a.outbox_epoch
        if not new_epoch and (env.boot, env.seq) <= (a.inventory_boot, a.inventory_seq):
            log.debug("stale birth of %s (boot %d seq %d) ignored", agent_id, env.boot, env.seq)
            return
        if new_epoch:
            if a.outbox_epoch is not None:
                log.info(
                    "agent %s has a new outbox (epoch %s): high-water mark reset", agent_id, body.outbox.epoch
                )
            a.outbox_hwm = body.outbox.low_seq - 1
        else:
            a.outbox_hwm = max(a.outbox_hwm, body.outbox.low_seq - 1)
        a.outbox_epoch = body.outbox.epoch
        if new_epoch or env.boot > a.boot:
            if env.boot != a.boot or not a.online:
                a.online_since = m.received_at
            a.boot = env.boot
            a.online = True
        a.inventory_boot = env.boot
        a.inventory_seq = env.seq
        a.version = body.version
        a.keepalive_s = body.keepalive_s
        a.birth_at = m.received_at
        a.outbox_depth = body.outbox.depth
        a.outbox_refused = body.outbox.refused
        devices: dict[str, DeviceLive] = {}
        for info in body.devices:
            d = a.devices.get(info.id) or DeviceLive(info.id)
            d.kind, d.model, d.profile = info.kind, info.model, info.profile
            d.profile_version = info.profile_version
            d.capabilities, d.commands = list(info.capabilities), list(info.commands)
            d.updated_at = m.received_at
            devices[info.id] = d
        removed = set(a.devices) - set(devices)
        self._removed_devices[agent_id] |= removed
        self._dirty_devices[agent_id] = set(devices)
        a.devices = devices
        a.readings = {k: v for k, v in a.readings.items() if k[0] in devices}
        self._dirty_agents.add(agent_id)

    def _dev_state(self, agent_id: str, m: Inbound, body: DevStateBody) -> None:
        a = self._agent(agent_id)
        if a is None or not a.known:
            self.rebirths.add(agent_id)
            return
        a.last_seen = m.received_at
        env = m.env
        if env.boot < a.inventory_boot or (env.boot == a.inventory_boot and env.seq <= a.inventory_seq):
            return  # older than what we hold (e.g. a retained copy replayed on subscribe)
        if env.boot == a.inventory_boot and env.seq == a.inventory_seq + 1:
            a.inventory_seq = env.seq
            self._dirty_agents.add(agent_id)
        else:
            self.rebirths.add(agent_id)  # gap in the inventory stream, or a boot whose birth we missed
        d = a.devices.get(body.device)
        if d is None:
            self.rebirths.add(agent_id)
            d = a.devices[body.device] = DeviceLive(body.device)
        d.status = body.status.value
        d.reason = body.reason
        d.last_error = body.last_error
        d.since = body.since
        d.updated_at = m.received_at
        self._removed_devices[agent_id].discard(body.device)
        self._dirty_devices[agent_id].add(body.device)
        self._dirty_agents.add(agent_id)

    def _telemetry(self, agent_id: str, m: Inbound, body: TelemetryBody) -> None:
        a = self._agent(agent_id)
        if a is None or not a.known:
            self.rebirths.add(agent_id)
            return
        a.last_seen = m.received_at
        a.outbox_depth = body.outbox.depth
        a.outbox_refused = body.outbox.refused
        for r in body.readings:
            key = (r.device, r.point)
            if r.device in a.devices and (key in a.readings or len(a.readings) < MAX_READINGS_PER_AGENT):
                a.readings[key] = ReadingLive(r.value, r.unit)
        env = m.env
        if env.boot > a.inventory_boot or (
            env.boot == a.inventory_boot and body.inventory_seq > a.inventory_seq
        ):
            self.rebirths.add(agent_id)

    # -- outbox stream -----------------------------------------------------------------------------------

    def _outbox(self, agent_id: str, m: Inbound, body: EventBody | ResultBody) -> None:
        a = self._agent(agent_id)
        if a is None or not a.known:
            self.rebirths.add(agent_id)
            return
        env = m.env
        a.last_seen = m.received_at
        if env.seq <= a.outbox_hwm:
            self.duplicates += 1
            self.acks[agent_id].append(env.id)
            return
        if env.seq > a.outbox_hwm + 1:
            self.out_of_order += 1
            return
        a.outbox_hwm = env.seq
        self._dirty_agents.add(agent_id)
        self.acks[agent_id].append(env.id)
        if isinstance(body, EventBody):
            self._events.append(
                {
                    "agent_id": agent_id,
                    "msg_id": env.id,
                    "seq": env.seq,
                    "boot": env.boot,
                    "ts": env.ts,
                    "device_id": body.device,
                    "type": body.type,
                    "data": body.data,
                    "received_at": m.received_at,
                }
            )
            return
        self._results.append(
            {
                "agent_id": agent_id,
                "msg_id": env.id,
                "seq": env.seq,
                "cmd_id": body.cmd_id,
                "status": body.status.value,
                "received_at": m.received_at,
            }
        )
        self._command_updates.append(
            {
                "b_cmd_id": body.cmd_id,
                "b_agent_id": agent_id,
                "b_status": body.status.value,
                "b_result": body.result,
                "b_error": body.error,
                "b_finished_at": m.received_at,
            }
        )

    # -- writing -----------------------------------------------------------------------------------------

    def flush(self, conn: sa.Connection) -> None:
        """Write the batch in the caller's transaction: agents, devices, events, results."""
        upsert(conn, AGENTS, [self.work[a].row() for a in sorted(self._dirty_agents)])
        for agent_id, removed in self._removed_devices.items():
            if removed:
                conn.execute(
                    sa.delete(DEVICES).where(DEVICES.c.agent_id == agent_id, DEVICES.c.device_id.in_(removed))
                )
        device_rows = [
            device_row(agent_id, self.work[agent_id].devices[dev])
            for agent_id, devs in self._dirty_devices.items()
            for dev in sorted(devs)
        ]
        upsert(conn, DEVICES, device_rows)
        if self._events:
            conn.execute(dialect_insert(conn, EVENTS).on_conflict_do_nothing(), self._events)
            file_captures(conn, self._events)  # materials become visible with their event's commit
        if self._results:
            conn.execute(dialect_insert(conn, RESULTS).on_conflict_do_nothing(), self._results)
            conn.execute(UPDATE_COMMAND, self._command_updates)

    @property
    def events_inserted(self) -> int:
        return len(self._events)

    @property
    def results_inserted(self) -> int:
        return len(self._results)
