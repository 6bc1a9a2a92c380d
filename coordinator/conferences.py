"""Conferences: bring every terminal in at the start, redial the ones that fail or drop, hang up at the end.

A thread ticks every ``tick_s`` (0.25 s). Each tick has three phases, so no transaction is ever open while a
command is created (that takes its own):

1. **read** — the active conferences (scheduled, running, or ended with hang-ups still out) and their
   participants; the ``terminal.call`` / ``terminal.mute`` events stored since the last tick (a cursor in
   ``coordinator_meta`` so a restart misses nothing); the commands in flight;
2. **decide**, in memory — start due conferences; apply the events (connected, dropped, muted); apply finished
   commands (a failed or expired dial → ``failed`` with a backoff of 1, 2, 4, 8, 15 s); choose the dials and
   hang-ups to send now (a dropped terminal is redialled at once); end conferences past ``end_at``;
3. **act and write** — create the commands through :class:`~coordinator.commands.CommandService` (which
   republishes them until a result or expiry; the agent runs each at most once), then write participants,
   conference states and the cursor in one transaction.

Participant states: waiting → dialing → connected → (dropped | failed → dialing …) → hanging_up → hung_up.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final

import sqlalchemy as sa
from prometheus_client import Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.engine import Engine

from coordinator.commands import CommandService
from coordinator.errors import CoordinatorError
from coordinator.models import CommandCreate, CommandRow, CommandStatus, CoordinatorMeta, Event
from coordinator.models.conference import Conference, ConferenceStatus, Participant, ParticipantState

log = logging.getLogger(__name__)

CONFERENCES: sa.Table = Conference.__table__  # type: ignore[attr-defined]
PARTICIPANTS: sa.Table = Participant.__table__  # type: ignore[attr-defined]
EVENTS: sa.Table = Event.__table__  # type: ignore[attr-defined]
COMMANDS: sa.Table = CommandRow.__table__  # type: ignore[attr-defined]
META: sa.Table = CoordinatorMeta.__table__  # type: ignore[attr-defined]

TICK_S: Final = 0.25
DIAL_TTL_S: Final = 30.0
HANGUP_TTL_S: Final = 20.0
HANGUP_GIVE_UP_S: Final = 120.0
REDIAL_BACKOFF_S: Final = (1.0, 2.0, 4.0, 8.0, 15.0)
EVENT_TYPES: Final = ("terminal.call", "terminal.mute")
EVENT_BATCH: Final = 2000
CURSOR_KEY: Final = "conference_event_cursor"
FINISHED_BAD = frozenset(
    {CommandStatus.FAILED.value, CommandStatus.REJECTED.value, CommandStatus.EXPIRED.value}
)
S = ParticipantState


@dataclass
class TerminalCounters:
    dials: int = 0
    dial_failures: int = 0
    drops: int = 0


@dataclass
class _Tick:
    now: float
    conferences: dict[uuid.UUID, dict[str, Any]]
    participants: list[dict[str, Any]]
    commands: dict[uuid.UUID, dict[str, Any]]
    cursor: int
    dirty_conferences: set[uuid.UUID] = field(default_factory=set)
    dirty: set[int] = field(default_factory=set)  # indexes into participants


class ConferenceService:
    def __init__(self, engine: Engine, commands: CommandService, tick_s: float = TICK_S) -> None:
        self._engine = engine
        self._commands = commands
        self._tick_s = tick_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._cursor: int | None = None
        self.counters: dict[tuple[str, str], TerminalCounters] = {}
        self.connected: dict[tuple[str, str], bool] = {}  # terminals of running conferences
        self.running = 0
        self.join_seconds = Histogram(
            "hallmesh_conference_join_seconds",
            "Time from a conference's start to a terminal's first connected call",
            buckets=(0.5, 1, 2, 3, 5, 7.5, 10, 15, 30, 60),
            registry=None,
        )

    # -- thread ------------------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="conferences", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self._tick_s):
            try:
                self.tick()
            except sa.exc.SQLAlchemyError as err:
                log.warning("conference tick failed: %s", err)

    # -- one tick ----------------------------------------------------------------------------------------

    def tick(self, now: float | None = None) -> None:
        t = self._read(time.time() if now is None else now)
        if not t.conferences:  # events wait for the next conference (the cursor stays where it is)
            self.connected = {}
            self.running = 0
            return
        self._start_due(t)
        self._apply_events(t)
        self._apply_commands(t)
        self._end_due(t)
        self._act(t)
        self._write(t)
        self.connected = {
            (p["agent_id"], p["device_id"]): p["state"] == S.CONNECTED.value
            for p in t.participants
            if t.conferences[p["conference_id"]]["status"] == ConferenceStatus.RUNNING.value
        }
        self.running = sum(1 for c in t.conferences.values() if c["status"] == ConferenceStatus.RUNNING.value)

    def _read(self, now: float) -> _Tick:
        c = CONFERENCES.c
        with self._engine.connect() as conn:
            cursor = self._cursor if self._cursor is not None else self._load_cursor(conn)
            active = sa.or_(
                c.status.in_([ConferenceStatus.SCHEDULED.value, ConferenceStatus.RUNNING.value]),
                sa.exists().where(
                    PARTICIPANTS.c.conference_id == c.id, PARTICIPANTS.c.state == S.HANGING_UP.value
                ),
            )
            conferences = {r.id: dict(r._mapping) for r in conn.execute(sa.select(CONFERENCES).where(active))}
            participants: list[dict[str, Any]] = []
            commands: dict[uuid.UUID, dict[str, Any]] = {}
            if conferences:
                query = sa.select(PARTICIPANTS).where(PARTICIPANTS.c.conference_id.in_(list(conferences)))
                participants = [dict(r._mapping) for r in conn.execute(query)]
                cmd_ids = [p["cmd_id"] for p in participants if p["cmd_id"] is not None]
                if cmd_ids:
                    rows = conn.execute(
                        sa.select(
                            COMMANDS.c.cmd_id, COMMANDS.c.status, COMMANDS.c.result, COMMANDS.c.error
                        ).where(COMMANDS.c.cmd_id.in_(cmd_ids))
                    )
                    commands = {r.cmd_id: dict(r._mapping) for r in rows}
        return _Tick(now, conferences, participants, commands, cursor)

    def _load_cursor(self, conn: sa.Connection) -> int:
        stored = conn.execute(sa.select(META.c.value).where(META.c.key == CURSOR_KEY)).scalar()
        if stored is not None:
            return int(stored)
        # First start with conferences: history before now cannot concern a conference.
        return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(EVENTS.c.id), 0))).scalar() or 0)

    def _set(self, t: _Tick, i: int, **values: Any) -> None:
        p = t.participants[i]
        if "state" in values and values["state"] != p["state"]:
            values.setdefault("changed_at", t.now)
        p.update(values)
        t.dirty.add(i)

    def _start_due(self, t: _Tick) -> None:
        for conf_id, conf in t.conferences.items():
            if conf["status"] != ConferenceStatus.SCHEDULED.value or conf["start_at"] > t.now:
                continue
            if conf["end_at"] <= t.now:
                conf["status"] = ConferenceStatus.CANCELLED.value
                conf["ended_at"] = t.now
                log.warning("conference %s was never started before its end; cancelled", conf_id)
            else:
                conf["status"] = ConferenceStatus.RUNNING.value
                conf["started_at"] = t.now
                log.info("conference %s (%s) started", conf_id, conf["title"])
                for i, p in enumerate(t.participants):
                    if p["conference_id"] == conf_id:
                        self._set(t, i, next_dial_at=t.now)
            t.dirty_conferences.add(conf_id)

    def _apply_events(self, t: _Tick) -> None:
        where = sa.and_(EVENTS.c.id > t.cursor, EVENTS.c.type.in_(EVENT_TYPES))
        query = sa.select(EVENTS.c.id, EVENTS.c.agent_id, EVENTS.c.device_id, EVENTS.c.type, EVENTS.c.data)
        with self._engine.connect() as conn:
            rows = conn.execute(query.where(where).order_by(EVENTS.c.id).limit(EVENT_BATCH)).all()
            if not rows:
                latest = conn.execute(sa.select(sa.func.max(EVENTS.c.id))).scalar()
                t.cursor = max(t.cursor, int(latest or 0))
        by_terminal: dict[tuple[str, str], list[int]] = {}
        for i, p in enumerate(t.participants):
            by_terminal.setdefault((p["agent_id"], p["device_id"]), []).append(i)
        for row in rows:
            t.cursor = int(row.id)
            data = row.data if isinstance(row.data, dict) else {}
            for i in by_terminal.get((row.agent_id, row.device_id), []):
                if row.type == "terminal.mute":
                    self._set(t, i, muted=bool(data.get("muted")))
                else:
                    self._on_call(t, i, str(data.get("state", "")), str(data.get("address", "")), data)

    def _on_call(self, t: _Tick, i: int, state: str, address: str, data: dict[str, Any]) -> None:
        p = t.participants[i]
        conf = t.conferences[p["conference_id"]]
        running = conf["status"] == ConferenceStatus.RUNNING.value
        key = (p["agent_id"], p["device_id"])
        if state == "connected" and running and address == conf["address"]:
            if p["state"] != S.CONNECTED.value:
                self._connected(t, i)
        elif state == "idle":
            reason = str(data.get("reason", "")) or "unknown"
            if running and p["state"] == S.CONNECTED.value:
                self._set(
                    t, i, state=S.DROPPED.value, connected_since=None, cmd_id=None, next_dial_at=t.now,
                    drops=p["drops"] + 1, last_error=f"call ended ({reason})",
                )  # fmt: skip
                self._counter(key).drops += 1
                log.warning("conference %s: %s/%s dropped (%s); redialling", conf["id"], *key, reason)
            elif p["state"] == S.HANGING_UP.value:
                self._set(t, i, state=S.HUNG_UP.value, connected_since=None, cmd_id=None)

    def _connected(self, t: _Tick, i: int) -> None:
        p = t.participants[i]
        conf = t.conferences[p["conference_id"]]
        first = p["joined_at"] is None
        self._set(
            t, i, state=S.CONNECTED.value, connected_since=t.now, cmd_id=None, last_error=None,
            joined_at=p["joined_at"] if not first else t.now,
        )  # fmt: skip
        if first and conf["started_at"] is not None:
            self.join_seconds.observe(max(0.0, t.now - conf["started_at"]))

    def _apply_commands(self, t: _Tick) -> None:
        for i, p in enumerate(t.participants):
            cmd = t.commands.get(p["cmd_id"]) if p["cmd_id"] is not None else None
            if cmd is None:
                continue
            status = cmd["status"]
            key = (p["agent_id"], p["device_id"])
            if p["state"] == S.DIALING.value:
                if status == CommandStatus.DONE.value:
                    self._connected(t, i)
                elif status in FINISHED_BAD:
                    n = min(p["attempts"], len(REDIAL_BACKOFF_S)) - 1
                    self._set(
                        t, i, state=S.FAILED.value, cmd_id=None, next_dial_at=t.now + REDIAL_BACKOFF_S[max(n, 0)],
                        last_error=f"dial {status}: {cmd['error'] or ''}".strip(),
                    )  # fmt: skip
                    self._counter(key).dial_failures += 1
            elif p["state"] == S.HANGING_UP.value:
                if status == CommandStatus.DONE.value:
                    self._set(t, i, state=S.HUNG_UP.value, cmd_id=None, connected_since=None)
                elif status in FINISHED_BAD:
                    self._set(t, i, cmd_id=None, next_dial_at=t.now + 2, last_error=f"hang-up {status}")

    def _end_due(self, t: _Tick) -> None:
        for conf_id, conf in t.conferences.items():
            if conf["status"] != ConferenceStatus.RUNNING.value or conf["end_at"] > t.now:
                continue
            conf["status"] = ConferenceStatus.ENDED.value
            conf["ended_at"] = t.now
            t.dirty_conferences.add(conf_id)
            log.info("conference %s (%s) ended; hanging up", conf_id, conf["title"])
            for i, p in enumerate(t.participants):
                if p["conference_id"] != conf_id:
                    continue
                never_dialled = p["state"] == S.WAITING.value
                self._set(
                    t, i, state=S.HUNG_UP.value if never_dialled else S.HANGING_UP.value, cmd_id=None,
                    next_dial_at=t.now,
                )  # fmt: skip

    def _act(self, t: _Tick) -> None:
        for i, p in enumerate(t.participants):
            conf = t.conferences[p["conference_id"]]
            due = p["cmd_id"] is None and (p["next_dial_at"] or 0) <= t.now
            if not due:
                continue
            redial = p["state"] in (S.WAITING.value, S.DROPPED.value, S.FAILED.value)
            if conf["status"] == ConferenceStatus.RUNNING.value and redial:
                self._send(t, i, "dial", {"address": conf["address"]}, DIAL_TTL_S, S.DIALING)
            elif p["state"] == S.HANGING_UP.value:
                if t.now - (conf["ended_at"] or t.now) > HANGUP_GIVE_UP_S:
                    self._set(t, i, state=S.HUNG_UP.value, last_error="hang-up not confirmed; gave up")
                else:
                    self._send(t, i, "hangup", {}, HANGUP_TTL_S, S.HANGING_UP)

    def _send(self, t: _Tick, i: int, action: str, args: dict[str, Any], ttl: float, state: S) -> None:
        p = t.participants[i]
        key = (p["agent_id"], p["device_id"])
        try:
            cmd_id = self._commands.create(
                p["agent_id"], p["device_id"], CommandCreate(action=action, args=args, ttl_s=ttl)
            )
        except CoordinatorError as err:  # terminal unknown or gone from the inventory: try again later
            attempts = p["attempts"] + (1 if action == "dial" else 0)
            n = min(attempts, len(REDIAL_BACKOFF_S)) - 1
            self._set(
                t, i, attempts=attempts, next_dial_at=t.now + REDIAL_BACKOFF_S[max(n, 0)], last_error=str(err)
            )
            if action == "dial":
                self._counter(key).dial_failures += 1
            return
        values: dict[str, Any] = {"state": state.value, "cmd_id": cmd_id}
        if action == "dial":
            values["attempts"] = p["attempts"] + 1
            self._counter(key).dials += 1
        self._set(t, i, **values)

    def _counter(self, key: tuple[str, str]) -> TerminalCounters:
        return self.counters.setdefault(key, TerminalCounters())

    def _write(self, t: _Tick) -> None:
        with self._engine.begin() as conn:
            for conf_id in t.dirty_conferences:
                conf = t.conferences[conf_id]
                conn.execute(
                    sa.update(CONFERENCES)
                    .where(CONFERENCES.c.id == conf_id)
                    .values(status=conf["status"], started_at=conf["started_at"], ended_at=conf["ended_at"])
                )
            pc = PARTICIPANTS.c
            for i in sorted(t.dirty):
                p = t.participants[i]
                key = {
                    "conference_id": p["conference_id"],
                    "agent_id": p["agent_id"],
                    "device_id": p["device_id"],
                }
                values = {k: v for k, v in p.items() if k not in key}
                conn.execute(
                    sa.update(PARTICIPANTS)
                    .where(
                        pc.conference_id == key["conference_id"],
                        pc.agent_id == key["agent_id"],
                        pc.device_id == key["device_id"],
                    )
                    .values(**values)
                )
            if t.cursor != self._cursor:
                updated = conn.execute(
                    sa.update(META).where(META.c.key == CURSOR_KEY).values(value=t.cursor)
                ).rowcount
                if not updated:
                    conn.execute(sa.insert(META).values(key=CURSOR_KEY, value=t.cursor))
        self._cursor = t.cursor

    # -- metrics -----------------------------------------------------------------------------------------

    def collector(self) -> Collector:
        return _ConferenceCollector(self)


class _ConferenceCollector(Collector):
    def __init__(self, service: ConferenceService) -> None:
        self._s = service

    def describe(self) -> Iterator[Metric]:
        return iter(())

    def collect(self) -> Iterator[Metric]:
        s = self._s
        labels = ["agent", "device"]
        connected = GaugeMetricFamily(
            "hallmesh_conference_terminal_connected",
            "1 if the terminal is connected to its running conference, 0 if not (only terminals of running conferences)",
            labels=labels,
        )
        for (agent, device), up in sorted(s.connected.items()):
            connected.add_metric([agent, device], 1.0 if up else 0.0)
        dials = CounterMetricFamily(
            "hallmesh_conference_terminal_dials", "Dial commands sent to the terminal", labels=labels
        )
        failures = CounterMetricFamily(
            "hallmesh_conference_terminal_dial_failures",
            "Dials that failed, expired or could not be sent",
            labels=labels,
        )
        drops = CounterMetricFamily(
            "hallmesh_conference_terminal_drops", "Calls that ended while their conference ran", labels=labels
        )
        for (agent, device), c in sorted(s.counters.items()):
            dials.add_metric([agent, device], c.dials)
            failures.add_metric([agent, device], c.dial_failures)
            drops.add_metric([agent, device], c.drops)
        yield connected
        yield dials
        yield failures
        yield drops
        yield GaugeMetricFamily("hallmesh_conferences_running", "Conferences running now", value=s.running)
        yield from s.join_seconds.collect()
