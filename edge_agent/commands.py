"""Commands from the coordinator (docs/protocol.md, "Commands"): at most once per ``cmd_id``.

Before a command runs, its ``cmd_id`` is stored durably; the outcome is stored with the result, in the
same transaction that puts the ``up/result`` into the outbox. A repeated ``cmd_id`` is answered with the
stored result again (unless that result is still waiting in the outbox), never run again; a command whose
run was cut short by the agent dying is answered ``failed`` ("interrupted"). Expired commands are answered
``expired``; unknown devices and actions, and bad arguments, ``rejected``; device failures ``failed``.

``device = "@agent"`` addresses the agent itself: ``rebirth`` republishes the birth and the device states
and makes the outbox sender go back to its lowest unacknowledged entry.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Final

from pydantic import JsonValue

from edge_agent.drivers.base import AnyDriver
from edge_agent.errors import BadArguments, DriverError, OutboxFull, UnknownAction
from edge_agent.outbox import RUNNING, Outbox
from edge_agent.recorder import Recorder
from protocols.messages import AGENT_TARGET, CommandBody, ResultBody, ResultStatus

log = logging.getLogger(__name__)

AGENT_ACTIONS: Final = ("rebirth",)
MAX_ERROR: Final = 1024


class CommandRunner:
    def __init__(
        self,
        outbox: Outbox,
        recorder: Recorder,
        drivers: Mapping[str, AnyDriver],
        *,
        rebirth: Callable[[], None],
        on_result: Callable[[], None],
        after_device_command: Callable[[str], None] = lambda _device: None,
    ) -> None:
        self._outbox = outbox
        self._recorder = recorder
        self._drivers = drivers
        self._rebirth = rebirth
        self._on_result = on_result
        self._after_device_command = after_device_command
        self._running: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.counts: dict[str, int] = {}

    def submit(self, cmd: CommandBody) -> None:
        """Accept a command from ``down/cmd``; it runs as its own task."""
        key = str(cmd.cmd_id)
        if key in self._running:
            return  # a redelivery while it runs: its result will follow
        record = self._outbox.command(cmd.cmd_id)
        if record is not None:
            self._repeat(cmd, record.status, record.result_id, record.result)
            return
        if cmd.expires_at < time.time():
            self._finish(
                cmd, ResultStatus.EXPIRED, error=f"arrived {time.time() - cmd.expires_at:.1f} s late"
            )
            return
        self._outbox.command_started(cmd.cmd_id)
        self._running.add(key)
        task = asyncio.get_running_loop().create_task(self._run(cmd), name=f"cmd-{key}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _repeat(
        self, cmd: CommandBody, status: str, result_id: str | None, result: ResultBody | None
    ) -> None:
        if result_id is not None and self._outbox.holds(result_id):
            return  # the first answer is still in the outbox and will be (re)sent
        if status == RUNNING or result is None:
            log.warning(
                "command %s was interrupted by a restart of the agent; not running it again", cmd.cmd_id
            )
            self._finish(cmd, ResultStatus.FAILED, error="interrupted: the agent stopped while running it")
            return
        self._store(result)

    async def _run(self, cmd: CommandBody) -> None:
        try:
            status, result, error = await self._execute(cmd)
            self._finish(cmd, status, result, error)
        finally:
            self._running.discard(str(cmd.cmd_id))

    async def _execute(self, cmd: CommandBody) -> tuple[ResultStatus, dict[str, JsonValue], str | None]:
        if cmd.device == AGENT_TARGET:
            if cmd.action == "rebirth":
                self._rebirth()
                return ResultStatus.DONE, {}, None
            return ResultStatus.REJECTED, {}, f"the agent has no action {cmd.action!r}"
        driver = self._drivers.get(cmd.device)
        if driver is None:
            return ResultStatus.REJECTED, {}, f"no device {cmd.device!r} on this agent"
        if cmd.action not in driver.describe().commands:
            return ResultStatus.REJECTED, {}, f"device {cmd.device!r} has no action {cmd.action!r}"
        try:
            # The runner adds the command's id, so captures and job events can name the command they answer.
            result = await driver.execute(cmd.action, {**cmd.args, "cmd_id": str(cmd.cmd_id)})
        except (UnknownAction, BadArguments) as err:
            return ResultStatus.REJECTED, {}, str(err)
        except DriverError as err:
            return ResultStatus.FAILED, {}, str(err) or type(err).__name__
        except Exception as err:  # a driver bug must not take the agent down; report it as a failure
            log.exception("command %s %s on %s crashed the driver", cmd.cmd_id, cmd.action, cmd.device)
            return ResultStatus.FAILED, {}, f"{type(err).__name__}: {err}"
        finally:
            self._after_device_command(cmd.device)
        return ResultStatus.DONE, result, None

    def _finish(
        self,
        cmd: CommandBody,
        status: ResultStatus,
        result: dict[str, JsonValue] | None = None,
        error: str | None = None,
    ) -> None:
        body = ResultBody(
            cmd_id=cmd.cmd_id,
            device=cmd.device,
            action=cmd.action,
            status=status,
            result=result or {},
            error=error[:MAX_ERROR] if error else None,
        )
        self.counts[status.value] = self.counts.get(status.value, 0) + 1
        if status is not ResultStatus.DONE:
            log.info("command %s %s on %s: %s (%s)", cmd.cmd_id, cmd.action, cmd.device, status.value, error)
        self._store(body)

    def _store(self, body: ResultBody) -> None:
        self._recorder.flush()  # the command's events go first
        try:
            self._outbox.append_result(body)
        except OutboxFull:
            log.warning("result of command %s refused: the outbox is full", body.cmd_id)
            return
        self._on_result()
