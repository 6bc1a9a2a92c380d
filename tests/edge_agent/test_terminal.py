"""The ``terminal`` driver against the terminal simulator over real TCP: commands, health, events, and
garbage, half lines and lost connections that never crash it."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import JsonValue

from edge_agent.config import parse_config
from edge_agent.drivers.registry import KINDS, build_driver
from edge_agent.drivers.terminal import TerminalConfig, TerminalDriver
from edge_agent.errors import BadArguments, ConfigError, DeviceError, UnknownAction
from protocols.messages import DeviceStatus
from protocols.terminal import CallState
from simulators.terminal import TerminalSim, TerminalSimOptions
from tests.support import free_port


class Sink:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, JsonValue]]] = []

    def __call__(self, event_type: str, data: dict[str, JsonValue]) -> None:
        self.events.append((event_type, data))

    def calls(self) -> list[tuple[JsonValue, JsonValue]]:
        return [(d["state"], d["reason"]) for t, d in self.events if t == "terminal.call"]


@pytest.fixture
def sim() -> Iterator[TerminalSim]:
    s = TerminalSim(TerminalSimOptions(connect_delay_s=0.05, stats_interval_s=0.05)).start()
    yield s
    s.stop()


def _driver(sim: TerminalSim, sink: Sink, **kw: float) -> TerminalDriver:
    return TerminalDriver(TerminalConfig(id="vt-1", port=sim.port, **kw), sink)


async def _until(predicate: object, limit_s: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while not predicate():  # type: ignore[operator]
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.01)


def test_registered_and_configurable(tmp_path: Path) -> None:
    assert KINDS["terminal"].config is TerminalConfig
    base = {"agent_id": "a1", "data_dir": "d", "broker": {"ca": "c", "cert": "c", "key": "k"}}
    cfg = parse_config(
        {**base, "devices": [{"id": "vt-1", "kind": "terminal", "port": 5000}]}, base_dir=tmp_path
    )
    device = cfg.devices[0]
    assert isinstance(device, TerminalConfig)
    assert device.port == 5000
    assert isinstance(build_driver(device, Sink()), TerminalDriver)
    with pytest.raises(ConfigError, match=r"devices\.0\.port"):
        parse_config({**base, "devices": [{"id": "vt-1", "kind": "terminal", "port": 0}]}, base_dir=tmp_path)
    info = build_driver(device, Sink()).describe()
    assert (info.kind, info.commands) == ("terminal", ["dial", "hangup", "mute", "preset", "status"])


def test_call_lifecycle_health_and_events(sim: TerminalSim) -> None:
    sink = Sink()
    driver = _driver(sim, sink)

    async def scenario() -> None:
        await driver.connect()
        health = await driver.poll()
        assert health.status is DeviceStatus.UP
        assert {r.point: r.value for r in health.readings}["in_call"] == 0.0
        assert await driver.execute("dial", {"address": "region-main@mcu"}) == {
            "state": "connected",
            "address": "region-main@mcu",
        }
        again = await driver.execute("dial", {"address": "region-main@mcu"})
        assert again["already"] is True
        with pytest.raises(DeviceError, match="busy"):
            await driver.execute("dial", {"address": "other@mcu"})
        sim.set_quality(loss_pct=9.0, bitrate_kbps=768.0)
        await _until(lambda: driver._status.stats.loss_pct == 9.0)
        health = await driver.poll()
        assert (health.status, health.reason) == (DeviceStatus.DEGRADED, "packet loss 9 %")
        readings = {r.point: (r.value, r.unit) for r in health.readings}
        assert readings["packet_loss_percent"] == (9.0, "%")
        assert readings["bitrate_kbps"] == (768.0, "kbit/s")
        assert readings["in_call"] == (1.0, "")
        assert await driver.execute("mute", {"on": True}) == {"muted": True}
        assert await driver.execute("preset", {"n": 3}) == {"preset": 3}
        status = await driver.execute("status", {})
        assert (status["call"], status["muted"], status["preset"]) == ("connected", True, 3)
        sim.drop_call()
        await _until(lambda: ("idle", "remote") in sink.calls())
        assert (await driver.poll()).status is DeviceStatus.UP
        assert (await driver.execute("hangup", {}))["already"] is True
        await driver.execute("dial", {"address": "region-main@mcu"})
        assert await driver.execute("hangup", {}) == {"state": "idle"}
        await driver.close()

    asyncio.run(scenario())
    assert sink.calls() == [
        ("idle", "resync"),
        ("dialing", ""),
        ("connected", ""),
        ("idle", "remote"),
        ("dialing", ""),
        ("connected", ""),
        ("idle", "hangup"),
    ]
    assert ("terminal.mute", {"muted": True}) in sink.events
    assert sim.status().call is CallState.IDLE


def test_failed_and_timed_out_dials_and_bad_arguments(sim: TerminalSim) -> None:
    sink = Sink()
    driver = _driver(sim, sink, dial_timeout_s=0.3)

    async def scenario() -> None:
        await driver.connect()
        sim.fail_next_dials(1)
        with pytest.raises(DeviceError, match="failed: failed"):
            await driver.execute("dial", {"address": "main@mcu"})
        sim.options = TerminalSimOptions(connect_delay_s=5)
        with pytest.raises(DeviceError, match="not connected within"):
            await driver.execute("dial", {"address": "main@mcu"})
        await _until(lambda: sim.status().call is CallState.IDLE)  # the driver hung up the attempt
        bad: list[tuple[str, dict[str, JsonValue]]] = [
            ("dial", {}),
            ("dial", {"address": "has space"}),
            ("dial", {"address": "a@b", "rate_kbps": 1}),
            ("mute", {"on": "yes"}),
            ("preset", {"n": 16}),
            ("preset", {"n": True}),
        ]
        for action, args in bad:
            with pytest.raises(BadArguments):
                await driver.execute(action, args)
        with pytest.raises(UnknownAction):
            await driver.execute("fly", {})
        await driver.close()

    asyncio.run(scenario())


def test_garbage_and_half_lines_never_crash_the_driver(sim: TerminalSim) -> None:
    sink = Sink()
    driver = _driver(
        sim, sink, request_timeout_s=0.5
    )  # an answer glued to a half line is lost: no long waits
    rng = random.Random(9)
    nasty = [
        b"\x00\x01\x02\r\n",
        b"\xff\xfe\xfd garbage\n",
        b"* CALL state=exploded\n",
        b"* CALL\n",
        b"* STATS loss_pct=nan bitrate_kbps=1e999\n",
        b"* MUTE on=maybe\n",
        b"1 OK call=idle\n2 ERR\n3 OK muted=7\n",
        b"* CALL state=connected address=ok@x",  # half line …
        b"x" * 5000 + b"\n",
        b"\n\n\r\n",
        b"2 OK call=ringing preset=x\n",
    ]

    async def scenario() -> None:
        await driver.connect()
        for _ in range(200):
            chunk = rng.choice(nasty) if rng.random() < 0.5 else rng.randbytes(rng.randrange(1, 300))
            sim.send_raw(chunk)
            if rng.random() < 0.1:
                # A garbage line shaped like the STATUS answer ("1 OK call=ringing") may be taken for it:
                # that poll fails with DeviceError (the supervisor would retry) — never anything else.
                with contextlib.suppress(DeviceError):
                    await driver.poll()
        sim.send_raw(b"\n")  # end whatever half line is pending
        await _until(lambda: driver._client is not None and driver._client.bad_lines > 50)
        assert driver._client is not None
        assert not driver._client.closed  # the same connection survived it all
        assert (await driver.poll()).status is DeviceStatus.UP
        assert (await driver.execute("dial", {"address": "main@mcu"}))["state"] == "connected"
        assert (await driver.poll()).status is DeviceStatus.UP
        await driver.close()

    asyncio.run(scenario())


def test_lost_control_connection_and_unreachable_terminal(sim: TerminalSim) -> None:
    sink = Sink()
    driver = _driver(sim, sink, connect_timeout_s=1)

    async def scenario() -> None:
        await driver.connect()
        await driver.execute("dial", {"address": "main@mcu"})
        sim.close_connections()
        await _until(lambda: driver._client is not None and driver._client.closed)
        with pytest.raises(DeviceError, match="connection"):
            await driver.poll()
        await driver.connect()  # the supervisor's restart: the call went on meanwhile
        assert (await driver.poll()).status is DeviceStatus.UP
        await driver.close()
        gone = TerminalDriver(TerminalConfig(id="vt-2", port=free_port(), connect_timeout_s=1), sink)
        with pytest.raises(DeviceError, match="cannot connect"):
            await gone.connect()

    asyncio.run(scenario())
    assert sink.calls()[-1] == ("connected", "")  # no spurious change reported on reconnect


def test_mute_reported_once_and_a_lost_notice_is_caught_up_by_the_next_poll(sim: TerminalSim) -> None:
    sink = Sink()
    driver = _driver(sim, sink)

    def mutes() -> list[JsonValue]:
        return [d["muted"] for t, d in sink.events if t == "terminal.mute"]

    async def scenario() -> None:
        await driver.connect()
        assert await driver.execute("mute", {"on": True}) == {"muted": True}
        assert await driver.execute("mute", {"on": True}) == {"muted": True}
        sim.send_raw(b"half a line ")  # the next notice is glued onto it and lost …
        sim.set_muted(False)  # … the terminal's own remote unmutes
        await _until(lambda: driver._client is not None and driver._client.bad_lines == 1)
        assert mutes() == [True]
        await driver.poll()  # … and STATUS catches it up
        assert mutes() == [True, False]
        await driver.close()

    asyncio.run(scenario())
