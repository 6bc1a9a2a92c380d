from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest

from edge_agent.drivers.base import Health
from edge_agent.errors import DeviceError
from edge_agent.supervisor import Supervisor
from protocols.messages import DeviceStatus, DevStateBody
from tests.edge_agent.fakes import FakeConfig, FakeDriver


def make(poll: float = 0.01) -> tuple[FakeDriver, Supervisor, list[DevStateBody]]:
    cfg = FakeConfig(id="fake-1", poll_interval_s=poll, restart_base_s=0.01, restart_max_s=0.02)
    driver = FakeDriver(cfg, lambda _t, _d: None)
    changes: list[DevStateBody] = []
    return driver, Supervisor(driver, changes.append), changes


async def until(predicate: Callable[[], bool], limit_s: float = 5.0) -> None:
    """Poll ``predicate`` on the loop (the supervisor under test has no event to wait on)."""
    async with asyncio.timeout(limit_s):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.005)


def test_state_is_reported_only_when_it_changes(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="edge_agent.supervisor")
    driver, sup, changes = make()

    async def scenario() -> None:
        task = asyncio.create_task(sup.run())
        await until(lambda: driver.polls >= 5)
        assert [c.status for c in changes] == [DeviceStatus.UP]
        assert sup.readings == driver.health.readings
        driver.health = Health(DeviceStatus.DEGRADED, "toner low")
        await until(lambda: len(changes) == 2)
        polls = driver.polls
        await until(lambda: driver.polls >= polls + 5)
        assert [(c.status, c.reason) for c in changes] == [
            (DeviceStatus.UP, ""),
            (DeviceStatus.DEGRADED, "toner low"),
        ]
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())
    assert [r.levelname for r in caplog.records] == ["INFO", "WARNING"]


def test_failed_driver_is_marked_down_restarted_and_recovers(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="edge_agent.supervisor")
    driver, sup, changes = make()

    async def scenario() -> None:
        driver.connect_error = DeviceError("no such device /dev/ttyUSB0")
        task = asyncio.create_task(sup.run())
        await until(lambda: driver.connects >= 4)  # restarted with backoff, again and again
        assert len(changes) == 1
        down = changes[0]
        assert (down.status, down.reason, down.last_error) == (
            DeviceStatus.DOWN,
            "connect failed",
            "no such device /dev/ttyUSB0",
        )
        assert driver.closes >= 3
        driver.connect_error = None
        await until(lambda: sup.state.status is DeviceStatus.UP)
        driver.poll_error = RuntimeError("driver bug")
        await until(lambda: sup.state.status is DeviceStatus.DOWN)
        assert (sup.state.reason, sup.state.last_error) == ("poll failed", "driver bug")
        assert sup.readings == ()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())
    # Once per change of state, never per attempt.
    assert [r.levelname for r in caplog.records] == ["WARNING", "INFO", "WARNING"]


def test_hung_poll_counts_as_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("edge_agent.supervisor.MIN_CALL_TIMEOUT_S", 0.05)
    driver, sup, _changes = make()

    async def hang() -> Health:
        await asyncio.sleep(10)
        raise AssertionError

    driver.poll = hang  # type: ignore[method-assign]

    async def scenario() -> None:
        sup._timeout = 0.05
        task = asyncio.create_task(sup.run())
        await until(lambda: sup.state.status is DeviceStatus.DOWN)
        assert sup.state.last_error == "TimeoutError"
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())
