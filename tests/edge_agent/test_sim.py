from __future__ import annotations

import asyncio

import pytest
from pydantic import JsonValue

from edge_agent.drivers.registry import KINDS, build_driver
from edge_agent.drivers.sim import SimConfig, SimDriver
from edge_agent.errors import BadArguments, DeviceError, OutboxFull, UnknownAction
from protocols.messages import DeviceStatus


class Sink:
    def __init__(self, room: int = 1_000_000) -> None:
        self.events: list[tuple[str, dict[str, JsonValue]]] = []
        self.room = room

    def __call__(self, event_type: str, data: dict[str, JsonValue]) -> None:
        if len(self.events) >= self.room:
            raise OutboxFull("full")
        self.events.append((event_type, data))


def test_registry_builds_the_sim_driver() -> None:
    assert KINDS["sim"].config is SimConfig
    driver = build_driver(SimConfig(id="sim-1"), Sink())
    assert isinstance(driver, SimDriver)
    info = driver.describe()
    assert (info.id, info.kind, info.model) == ("sim-1", "sim", "hallmesh-sim")
    assert info.commands == ["echo", "emit", "fail", "recover", "capture"]


def test_poll_echo_emit() -> None:
    sink = Sink()
    driver = SimDriver(SimConfig(id="sim-1"), sink)

    async def scenario() -> None:
        with pytest.raises(DeviceError):
            await driver.poll()  # not connected
        await driver.connect()
        health = await driver.poll()
        assert health.status is DeviceStatus.UP
        assert [(r.point, r.unit) for r in health.readings] == [
            ("temperature_celsius", "Cel"),
            ("uptime_seconds", "s"),
        ]
        assert await driver.execute("echo", {"a": [1, 2]}) == {"a": [1, 2]}
        assert await driver.execute("emit", {"count": 1000, "type": "scan.done"}) == {"emitted": 1000}
        assert sink.events[0] == ("scan.done", {"n": 0})
        assert len(sink.events) == 1000
        bad: list[dict[str, JsonValue]] = [
            {"count": 0},
            {"count": "3"},
            {"count": True},
            {"type": "a b"},
            {"data": [1]},
        ]
        for args in bad:
            with pytest.raises(BadArguments):
                await driver.execute("emit", args)
        with pytest.raises(UnknownAction):
            await driver.execute("dance", {})
        await driver.close()

    asyncio.run(scenario())


def test_emit_reports_refusals() -> None:
    driver = SimDriver(SimConfig(id="sim-1"), Sink(room=3))
    with pytest.raises(DeviceError, match="2 of 5 events refused"):
        asyncio.run(driver.execute("emit", {"count": 5}))


def test_fail_and_recover() -> None:
    driver = SimDriver(SimConfig(id="sim-1", fail_at_start=True), Sink())

    async def scenario() -> None:
        with pytest.raises(DeviceError, match="simulated failure"):
            await driver.connect()
        await driver.execute("recover", {})
        await driver.connect()
        await driver.poll()
        await driver.execute("fail", {"seconds": 0.05})
        with pytest.raises(DeviceError):
            await driver.poll()
        await asyncio.sleep(0.06)
        await driver.poll()
        with pytest.raises(BadArguments):
            await driver.execute("fail", {"seconds": -1})
        await driver.close()

    asyncio.run(scenario())


def test_spontaneous_events() -> None:
    sink = Sink()
    driver = SimDriver(SimConfig(id="sim-1", event_interval_s=0.01), sink)

    async def scenario() -> None:
        await driver.connect()
        async with asyncio.timeout(5):
            while len(sink.events) < 3:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        await driver.close()

    asyncio.run(scenario())
    assert [t for t, _ in sink.events[:3]] == ["tick"] * 3
