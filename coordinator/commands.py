"""Commands to devices: ``pending`` (row created) → ``sent`` (published QoS 1 on ``down/cmd``) →
``done`` / ``failed`` / ``rejected`` / ``expired`` (by the agent's result, see ingest, or by our clock).

A sweeper thread marks open commands past ``expires_at`` as expired and publishes commands still pending
(created while the MQTT session was down). Publishing twice is safe: agents run a ``cmd_id`` at most once.
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

Send = Callable[[Channel, str, Body], bool]
AGENT_ACTIONS = frozenset({"rebirth"})


class CommandService:
    def __init__(self, settings: Settings, engine: Engine, live: LiveState, send: Send) -> None:
        self._settings = settings
        self._engine = engine
        self._live = live
        self._send = send
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- creating ----------------------------------------------------------------------------------------

    def create(self, agent_id: str, device_id: str, req: CommandCreate) -> uuid.UUID:
        """Record a command for a device (or ``@agent``), publish it; return its id."""
        agent = self._live.get(agent_id)
        if agent is None:
            raise NotFoundError(f"agent {agent_id!r} is not registered")
        if device_id == AGENT_TARGET:
            if req.action not in AGENT_ACTIONS:
                raise CommandError(
                    f"action {req.action!r} is not an agent action ({', '.join(sorted(AGENT_ACTIONS))})"
                )
        else:
            device = agent.devices.get(device_id)
            if device is None:
                raise NotFoundError(f"agent {agent_id!r} has no device {device_id!r}")
            if device.commands and req.action not in device.commands:
                raise CommandError(
                    f"device {device_id!r} has no action {req.action!r}; it offers {', '.join(device.commands)}"
                )
        now = time.time()
        cmd_id = uuid7()
        ttl = req.ttl_s if req.ttl_s is not None else self._settings.command_default_ttl_s
        row: dict[str, Any] = {
            "cmd_id": cmd_id,
            "agent_id": agent_id,
            "device_id": device_id,
            "action": req.action,
            "args": req.args,
            "status": CommandStatus.PENDING.value,
            "created_at": now,
            "expires_at": now + ttl,
        }
        with self._engine.begin() as conn:
            conn.execute(sa.insert(COMMANDS).values(**row))
        if not self._publish(row):
            log.info("command %s stays pending until the MQTT session is back", cmd_id)
        return cmd_id

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
        with self._engine.begin() as conn:
            conn.execute(
                sa.update(COMMANDS)
                .where(COMMANDS.c.cmd_id == row["cmd_id"], COMMANDS.c.status == CommandStatus.PENDING.value)
                .values(status=CommandStatus.SENT.value, sent_at=time.time())
            )
        return True

    # -- sweeping ----------------------------------------------------------------------------------------

    def sweep(self) -> int:
        """Expire open commands past their deadline; publish pending ones; return how many expired."""
        now = time.time()
        with self._engine.begin() as conn:
            expired = conn.execute(
                sa.update(COMMANDS)
                .where(
                    COMMANDS.c.status.in_([CommandStatus.PENDING.value, CommandStatus.SENT.value]),
                    COMMANDS.c.expires_at < now,
                )
                .values(
                    status=CommandStatus.EXPIRED.value,
                    finished_at=now,
                    error="expired before a result arrived",
                )
            ).rowcount
        with self._engine.connect() as conn:
            pending = [
                dict(r._mapping)
                for r in conn.execute(
                    sa.select(COMMANDS)
                    .where(COMMANDS.c.status == CommandStatus.PENDING.value, COMMANDS.c.created_at < now - 1)
                    .order_by(COMMANDS.c.created_at)
                    .limit(500)
                )
            ]
        for row in pending:
            if not self._publish(row):
                break
        if expired:
            log.info("%d command(s) expired without a result", expired)
        return int(expired)

    def start(self) -> None:
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
