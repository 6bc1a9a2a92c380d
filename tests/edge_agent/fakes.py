"""A scriptable fake driver for unit tests of the runtime (supervisor, commands)."""

from __future__ import annotations

import asyncio
from typing import Literal

from pydantic import JsonValue

from edge_agent.drivers.base import DeviceConfigBase, Driver, EmitFn, Health, Reading
from edge_agent.errors import BadArguments, DeviceError, UnknownAction
from protocols.messages import DeviceInfo, DeviceStatus


class FakeConfig(DeviceConfigBase):
    kind: Literal["fake"] = "fake"


class FakeDriver(Driver[DeviceConfigBase]):
    """Health and failures are set by the test; ``execute`` knows ``echo``, ``fail``, ``boom`` and ``slow``."""

    kind = "fake"

    def __init__(self, config: DeviceConfigBase, emit: EmitFn) -> None:
        super().__init__(config, emit)
        self.connect_error: Exception | None = None
        self.poll_error: Exception | None = None
        self.health = Health(DeviceStatus.UP, "", (Reading("temperature_celsius", 21.5, "Cel"),))
        self.connects = 0
        self.closes = 0
        self.polls = 0
        self.executed: list[tuple[str, dict[str, JsonValue]]] = []
        self.release = asyncio.Event()

    async def connect(self) -> None:
        self.connects += 1
        if self.connect_error is not None:
            raise self.connect_error

    async def close(self) -> None:
        self.closes += 1

    def describe(self) -> DeviceInfo:
        return DeviceInfo(id=self.device_id, kind="fake", commands=["echo", "fail", "boom", "slow", "bad"])

    async def poll(self) -> Health:
        self.polls += 1
        if self.poll_error is not None:
            raise self.poll_error
        return self.health

    async def execute(self, action: str, args: dict[str, JsonValue]) -> dict[str, JsonValue]:
        self.executed.append((action, args))
        if action == "echo":
            return dict(args)
        if action == "fail":
            raise DeviceError("paper jam")
        if action == "boom":
            raise RuntimeError("driver bug")
        if action == "bad":
            raise BadArguments("count must be positive")
        if action == "slow":
            await self.release.wait()
            return {"slow": True}
        raise UnknownAction(action)
