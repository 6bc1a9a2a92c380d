"""Commands to devices: ``pending`` (row created) → ``sent`` (published QoS 1 on ``down/cmd``) →
``done`` / ``failed`` / ``rejected`` / ``expired`` (by the agent's result, see ingest, or by our clock).

A sweeper thread marks open commands past ``expires_at`` as expired, and republishes open commands: pending
ones (created while the MQTT session was down), sent ones without a result after ``command_resend_s``, and
all of them after the MQTT session reconnects (a broker restart may have lost them). Publishing again is
safe: an agent runs a ``cmd_id`` at most once and answers a repeat with the stored result.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from coordinator.errors import CommandError, NotFoundError
from coordinator.models import CommandCreate, CommandRow, CommandStatus
from coordinator.settings import Settings
from coordinator.state import LiveState
from protocols import topics
from protocols.ids import uuid7
from protocols.messages import AGENT_TARGET, Body, CommandBody
from protocols.topics import Channel

log = logging.getLogger(__name__)

COMMANDS: sa.Table = CommandRow.__table__  # type: ignore[attr-defined]
OPEN = (CommandStatus.PENDING.value, CommandStatus.SENT.value)
AGENT_ACTIONS = frozenset({"rebirth"})
RESEND_BATCH = 500

Send = Callable[[Channel, str, Body], bool]


class CommandService:
    def __init__(
        self, settings: Settings, engine: Engine, live: LiveState, send: Send, connects: Callable[[], int]
    ) -> None:
        self._settings = settings
        self._engine = engine
        self._live = live
        self._send = send
        self._connects = connects
        self._seen_connects = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- creating ----------------------------------------------------------------------------------------

    def _check(self, agent_id: str, device_id: str, action: str) -> None:
        agent = self._live.get(agent_id)
        if agent is None:
            raise NotFoundError(f"agent {agent_id!r} is not registered")
        if device_id == AGENT_TARGET:
            if action not in AGENT_ACTIONS:
                raise CommandError(
                    f"action {action!r} is not an agent action ({', '.join(sorted(AGENT_ACTIONS))})"
                )
            return
        device = agent.devices.get(device_id)
        if device is None:
            raise NotFoundError(f"agent {agent_id!r} has no device {device_id!r}")
        if device.commands and action not in device.commands:
            raise CommandError(
                f"device {device_id!r} has no action {action!r}; it offers {', '.join(device.commands)}"
            )

    def create(self, agent_id: str, device_id: str, req: CommandCreate) -> uuid.UUID:
        """Record a command for a device (or ``@agent``), publish it; return its id."""
        self._check(agent_id, device_id, req.action)
        now = time.time()
        ttl = req.ttl_s if req.ttl_s is not None else self._settings.command_default_ttl_s
        row: dict[str, Any] = {
            "cmd_id": uuid7(),
            "agent_id": agent_id,
            "device_id": device_id,
            "action": req.action,
            "args": req.args,
            "status": CommandStatus.PENDING.value,
            "created_at": now,
            "expires_at": now + ttl,
            "attempts": 0,
        }
        with self._engine.begin() as conn:
            conn.execute(sa.insert(COMMANDS).values(**row))
        if not self._publish(row):
            log.info("command %s stays pending until the MQTT session is back", row["cmd_id"])
        return uuid.UUID(str(row["cmd_id"]))

    def _publish(self, row: dict[str, Any]) -> bool:
        body = CommandBody(
            cmd_id=row["cmd_id"],
            device=row["device_id"],
            action=row["action"],
            args=row["args"],
            expires_at=row["expires_at"],
        )
        if not self._send(Channel.CMD, topics.cmd(row["agent_id"]), body):
            return False
        now = time.time()
        with self._engine.begin() as conn:
            conn.execute(
                sa.update(COMMANDS)
                .where(COMMANDS.c.cmd_id == row["cmd_id"], COMMANDS.c.status.in_(OPEN))
                .values(
                    status=CommandStatus.SENT.value,
                    sent_at=sa.func.coalesce(COMMANDS.c.sent_at, now),
                    last_sent_at=now,
                    attempts=COMMANDS.c.attempts + 1,
                )
            )
        return True

    # -- sweeping ----------------------------------------------------------------------------------------

    def sweep(self) -> int:
        """Expire open commands past their deadline; republish the open ones due; return how many expired."""
        now = time.time()
        with self._engine.begin() as conn:
            expired = conn.execute(
                sa.update(COMMANDS)
                .where(COMMANDS.c.status.in_(OPEN), COMMANDS.c.expires_at < now)
                .values(
                    status=CommandStatus.EXPIRED.value,
                    finished_at=now,
                    error="expired before a result arrived",
                )
            ).rowcount
        if expired:
            log.info("%d command(s) expired without a result", expired)
        connects = self._connects()
        reconnected = connects != self._seen_connects
        self._seen_connects = connects
        c = COMMANDS.c
        due = sa.or_(
            sa.and_(c.status == CommandStatus.PENDING.value, c.created_at < now - 1),
            sa.and_(
                c.status == CommandStatus.SENT.value, c.last_sent_at < now - self._settings.command_resend_s
            ),
        )
        query = sa.select(COMMANDS).where(c.status.in_(OPEN), c.expires_at >= now)
        if not reconnected:
            query = query.where(due)
        with self._engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(query.order_by(c.created_at).limit(RESEND_BATCH))]
        for row in rows:
            if not self._publish(row):
                self._seen_connects = -1  # session down again: resend everything once it is back
                break
        return int(expired)

    def start(self) -> None:
        self._seen_connects = self._connects()
        self._thread = threading.Thread(target=self._run, name="command-sweeper", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._settings.command_sweep_interval_s):
            try:
                self.sweep()
            except sa.exc.SQLAlchemyError as err:
                log.warning("command sweep failed: %s", err)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
