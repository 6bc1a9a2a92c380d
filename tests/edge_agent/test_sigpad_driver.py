"""The ``sigpad`` driver against the simulated pad on a real pty at 115200 baud: signatures with garbage on
the line, signatures started on the pad, a vanished port, and configuration."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import time
from collections.abc import Iterator

import pytest
from PIL import Image
from pydantic import JsonValue, TypeAdapter, ValidationError

from device_profiles.loader import builtin_profiles
from edge_agent.drivers.base import Capture, CaptureRef
from edge_agent.drivers.registry import KINDS, DriverKind, build_driver, config_union
from edge_agent.drivers.sigpad import SigpadConfig, SigpadDriver, render_png
from edge_agent.errors import BadArguments, DeviceError, UnknownAction
from protocols.messages import DeviceStatus
from protocols.sigpad import Info, PadState, PenSample
from simulators.sigpad import SigpadSim, SigpadSimOptions, Stroke


class CaptureSink:
    """Collects what the driver hands to the blob pipeline (an in-process stand-in for the agent's spool)."""

    def __init__(self) -> None:
        self.captures: list[Capture] = []
        self.arrived = asyncio.Event()

    async def __call__(self, capture: Capture) -> CaptureRef:
        self.captures.append(capture)
        self.arrived.set()
        return CaptureRef(hashlib.sha256(capture.data).hexdigest(), len(capture.data), capture.media_type)

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(10):
            while len(self.captures) < count:
                self.arrived.clear()
                await self.arrived.wait()


@pytest.fixture
def sim() -> Iterator[SigpadSim]:
    s = SigpadSim(SigpadSimOptions(noise_between=0.25, noise_inside=0.04, noise_seed=11)).start()
    yield s
    s.stop()


def _driver(sim: SigpadSim, sink: CaptureSink, **kw: float) -> SigpadDriver:
    events: list[tuple[str, dict[str, JsonValue]]] = []
    driver = SigpadDriver(SigpadConfig(id="pad-1", port=sim.path, **kw), lambda t, d: events.append((t, d)))
    driver.attach_capture(sink)
    return driver


def _points(capture: Capture) -> list[Stroke]:
    doc = json.loads(capture.data)
    assert doc["format"] == "hallmesh-strokes-v1"
    return [[(p["x"], p["y"], p["pressure"], p["t_ms"]) for p in s["points"]] for s in doc["strokes"]]  # type: ignore[misc]


def test_fifty_signatures_through_garbage_arrive_intact(sim: SigpadSim) -> None:
    sink = CaptureSink()
    driver = _driver(sim, sink)
    digest = hashlib.sha256(b"application form").hexdigest()

    async def scenario() -> list[list[Stroke]]:
        await driver.connect()
        sent: list[list[Stroke]] = []
        for n in range(50):
            command = asyncio.create_task(
                driver.execute("sign", {"case": f"case-{n}", "signs": digest, "timeout_s": 20})
            )
            await asyncio.to_thread(sim.wait_state, PadState.SIGNING)
            sent.append(await asyncio.to_thread(sim.sign_random, n, 2, 12))
            result = await command
            assert result["strokes"] == len(sent[-1])
            refs = sink.captures[-2:]
            assert result["signature"] == {
                "sha256": hashlib.sha256(refs[0].data).hexdigest(),
                "size": len(refs[0].data),
                "media_type": "image/png",
            }
            assert result["signature_strokes"]["sha256"] == hashlib.sha256(refs[1].data).hexdigest()  # type: ignore[call-overload,index]
        health = await driver.poll()
        assert health.status is DeviceStatus.UP
        profile = builtin_profiles()["hallmesh-sigpad"]
        assert all(profile.point(r.point) is not None for r in health.readings)  # the profile lists them
        readings = {r.point: r.value for r in health.readings}
        assert readings["garbage_bytes_total"] > 0
        assert readings["crc_errors_total"] > 0  # frames were hit inside and recovered by RESEND
        assert readings["signatures_total"] == 50
        await driver.close()
        return sent

    started = time.monotonic()
    sent = asyncio.run(scenario())
    elapsed = time.monotonic() - started
    pictures = [c for c in sink.captures if c.kind == "signature"]
    strokes = [c for c in sink.captures if c.kind == "signature_strokes"]
    assert len(pictures) == len(strokes) == 50
    for n, (picture, doc) in enumerate(zip(pictures, strokes, strict=True)):
        assert (picture.case, doc.case) == (f"case-{n}", f"case-{n}")
        assert picture.signs == doc.signs == hashlib.sha256(b"application form").hexdigest()
        assert picture.media_type == "image/png"
        assert doc.media_type == "application/json"
        assert _points(doc) == [[tuple(p) for p in stroke] for stroke in sent[n]]
    image = Image.open(io.BytesIO(pictures[0].data))
    assert image.format == "PNG"
    assert image.getpixel((0, 0)) == (255, 255, 255)
    darkest, _ = image.convert("L").getextrema()
    assert isinstance(darkest, int)
    assert darkest < 128  # there is ink
    assert sim.garbage_sent > 0
    print(f"50 signatures in {elapsed:.1f} s, {sim.garbage_sent} garbage bytes injected")


def test_ok_on_the_pad_without_a_command_is_a_device_capture(sim: SigpadSim) -> None:
    sink = CaptureSink()
    driver = _driver(sim, sink)

    async def scenario() -> list[Stroke]:
        await driver.connect()
        sent = await asyncio.to_thread(sim.sign_random, 99, 3, 15)
        await sink.wait_for(2)
        await driver.close()
        return sent

    sent = asyncio.run(scenario())
    kinds = {c.kind: c for c in sink.captures}
    assert set(kinds) == {"signature", "signature_strokes"}
    assert all(c.case is None and c.cmd_id is None and c.signs is None for c in sink.captures)
    assert _points(kinds["signature_strokes"]) == [[tuple(p) for p in s] for s in sent]
    doc = json.loads(kinds["signature_strokes"].data)
    assert (doc["device"]["x_max"], doc["device"]["y_max"], doc["session"]) == (10_000, 4_000, 0)


def test_port_closed_means_down_with_a_reason() -> None:
    sim = SigpadSim().start()
    sink = CaptureSink()
    driver = _driver(sim, sink, info_timeout_s=0.5)

    async def scenario() -> None:
        await driver.connect()
        assert (await driver.poll()).status is DeviceStatus.UP
        command = asyncio.create_task(driver.execute("sign", {"timeout_s": 30}))
        await asyncio.to_thread(sim.wait_state, PadState.SIGNING)
        await asyncio.to_thread(sim.unplug)
        with pytest.raises(DeviceError, match="lost"):
            await command
        with pytest.raises(DeviceError, match=rf"port {sim.path} lost"):
            await driver.poll()
        await driver.close()
        with pytest.raises(DeviceError, match="cannot open"):
            await driver.connect()

    asyncio.run(scenario())


def test_silent_pad_is_degraded_then_down() -> None:
    sim = SigpadSim().start()
    driver = _driver(sim, CaptureSink(), info_timeout_s=0.2, missed_polls_down=2)

    async def scenario() -> None:
        await driver.connect()
        sim.silence()  # the pad hangs
        health = await driver.poll()
        assert health.status is DeviceStatus.DEGRADED
        assert "did not answer INFO" in health.reason
        with pytest.raises(DeviceError, match="2 polls in a row"):
            await driver.poll()
        await driver.close()

    try:
        asyncio.run(scenario())
    finally:
        sim.stop()


def test_cancel_clear_and_bad_arguments(sim: SigpadSim) -> None:
    sink = CaptureSink()
    driver = _driver(sim, sink)

    async def scenario() -> None:
        await driver.connect()
        with pytest.raises(BadArguments, match="signs"):
            await driver.execute("sign", {"signs": "not-a-hash"})
        with pytest.raises(BadArguments, match="timeout_s"):
            await driver.execute("sign", {"timeout_s": 0})
        with pytest.raises(UnknownAction):
            await driver.execute("scan", {})
        command = asyncio.create_task(driver.execute("sign", {"case": "c1", "timeout_s": 20}))
        await asyncio.to_thread(sim.wait_state, PadState.SIGNING)
        await asyncio.to_thread(sim.sign_random, 1, 1, 10, False)  # ink, then the clerk clears it
        assert await driver.execute("clear", {}) == {"cleared": True}
        sent = await asyncio.to_thread(sim.sign_random, 2, 1, 10)
        result = await command
        assert result["strokes"] == 1
        assert _points(sink.captures[-1]) == [[tuple(p) for p in s] for s in sent]
        command = asyncio.create_task(driver.execute("sign", {"case": "c2", "timeout_s": 20}))
        await asyncio.to_thread(sim.wait_state, PadState.SIGNING)
        assert await driver.execute("cancel", {}) == {"cancelled": True}
        with pytest.raises(DeviceError, match="cancelled"):
            await command
        await asyncio.to_thread(sim.wait_state, PadState.IDLE)
        command = asyncio.create_task(driver.execute("sign", {"case": "c3", "timeout_s": 20}))
        await asyncio.to_thread(sim.wait_state, PadState.SIGNING)
        await asyncio.to_thread(sim.press_cancel)
        with pytest.raises(DeviceError, match="signer cancelled"):
            await command
        with pytest.raises(DeviceError, match="no signature within"):
            await driver.execute("sign", {"timeout_s": 0.3})
        await driver.close()

    asyncio.run(scenario())
    assert len(sink.captures) == 2


def test_config_and_describe(monkeypatch: pytest.MonkeyPatch) -> None:
    # The line registry.py gets when the driver is wired in: agent.toml then takes kind = "sigpad".
    monkeypatch.setitem(KINDS, "sigpad", DriverKind(SigpadConfig, SigpadDriver))
    devices = TypeAdapter(config_union())  # what edge_agent.config builds from KINDS at import
    device = devices.validate_python({"id": "pad-1", "kind": "sigpad", "port": "/dev/ttyUSB0"})
    assert isinstance(device, SigpadConfig)
    assert isinstance(build_driver(device, lambda t, d: None), SigpadDriver)
    with pytest.raises(ValidationError, match=r"sigpad\.baudrate"):
        devices.validate_python({"id": "p", "kind": "sigpad", "port": "/dev/x", "baudrate": 7})

    config = SigpadConfig(id="pad-1", port="/dev/ttyUSB0")
    assert (config.kind, config.baudrate) == ("sigpad", 115_200)
    info = SigpadDriver(config, lambda t, d: None).describe()
    assert (info.kind, info.commands) == ("sigpad", ["sign", "clear", "cancel"])
    profile = builtin_profiles()[info.profile]
    assert (profile.driver, profile.version) == ("sigpad", info.profile_version)
    with pytest.raises(ValidationError, match="port"):
        SigpadConfig(id="pad-1")  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="baudrate"):
        SigpadConfig(id="pad-1", port="/dev/ttyS0", baudrate=0)
    with pytest.raises(ValidationError, match="extra"):
        SigpadConfig(id="pad-1", port="/dev/ttyS0", parity="E")  # type: ignore[call-arg]


def test_png_line_width_follows_pressure() -> None:
    info = Info(1000, 400, 1000, "m", "f")
    light = [PenSample(i, 100 + 40 * i, 100, 50, True, 5 * i) for i in range(20)]
    heavy = [PenSample(20 + i, 100 + 40 * i, 300, 1000, True, 5 * i) for i in range(20)]
    image = Image.open(io.BytesIO(render_png([light, heavy], info, 600))).convert("L")
    assert image.size == (600, round(400 * 580 / 1000) + 20)

    def ink_rows(y_device: int) -> int:  # rows with ink around the stroke's line, in the middle of it
        y = round(10 + y_device * 580 / 1000)
        values = [image.getpixel((300, row)) for row in range(y - 15, y + 16)]
        return sum(1 for v in values if isinstance(v, int) and v < 128)

    assert 1 <= ink_rows(100) < ink_rows(300)
    assert image.getpixel((5, 5)) == 255
