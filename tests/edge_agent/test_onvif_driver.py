"""The ``onvif`` driver against the ONVIF camera simulator and against ipycam (an independent ONVIF camera):
device info, profiles, URIs, PTZ, snapshots into the capture pipeline, clock skew, health states and frames."""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
import tomllib
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from aiohttp import web
from pydantic import JsonValue, TypeAdapter, ValidationError

from edge_agent.drivers.base import Capture, CaptureRef, TileSource
from edge_agent.drivers.onvif_camera import OnvifConfig, OnvifDriver
from edge_agent.drivers.registry import KINDS, DriverKind, build_driver, config_union
from edge_agent.errors import BadArguments, DeviceError, UnknownAction
from edge_agent.supervisor import Supervisor
from protocols.messages import DeviceStatus, DevStateBody
from protocols.onvif import OnvifClient
from simulators.onvif_camera import OnvifCameraOptions, OnvifCameraSim
from simulators.scene import camera_index_for_colour, decode_timestamp, probe_point
from tests.protocols.test_onvif import HttpStub
from tests.support import free_port

PASSWORD = "s3cret"


class Captures:
    def __init__(self) -> None:
        self.items: list[Capture] = []

    async def __call__(self, capture: Capture) -> CaptureRef:
        self.items.append(capture)
        return CaptureRef(hashlib.sha256(capture.data).hexdigest(), len(capture.data), capture.media_type)


def _events(_type: str, _data: dict[str, JsonValue]) -> None:
    raise AssertionError("the onvif driver emits no events")


def _driver(port: int, password: str = PASSWORD, **kw: Any) -> OnvifDriver:
    config = OnvifConfig(id="cam-1", host="127.0.0.1", port=port, password=password, **kw)
    return OnvifDriver(config, _events)


def run(coro: Awaitable[Any]) -> Any:
    async def wrapped() -> Any:
        return await coro

    return asyncio.run(wrapped())


async def _until(predicate: Callable[[], Any], limit_s: float = 15.0, what: str = "condition") -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    for _ in range(100_000):
        value = predicate()
        if value:
            return value
        if loop.time() > deadline:
            break
        await asyncio.sleep(0.02)
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def sim() -> Iterator[OnvifCameraSim]:
    s = OnvifCameraSim(OnvifCameraOptions(name="counter-7", index=6, password=PASSWORD, fps=15))
    s.start()
    yield s
    s.stop()


def test_config_hides_the_password() -> None:
    config = OnvifConfig(id="cam-1", host="10.0.0.9", password="hunter2")
    assert "hunter2" not in repr(config)
    assert "hunter2" not in config.model_dump_json()
    assert config.tile_profile == "sub"
    assert isinstance(OnvifDriver(config, _events), TileSource)


def test_the_documented_config_validates() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "devices" / "onvif-camera.md").read_text()
    block = doc.split("```toml\n", 1)[1].split("```", 1)[0]
    [device] = tomllib.loads(block)["devices"]
    config = OnvifConfig.model_validate(device)
    assert (config.kind, config.tile_profile, config.password.get_secret_value()) == (
        "onvif",
        "sub",
        "change-me",
    )


def test_fits_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the one registry line (``"onvif": DriverKind(OnvifConfig, OnvifDriver)``) will do, without editing it."""
    monkeypatch.setitem(KINDS, "onvif", DriverKind(OnvifConfig, OnvifDriver))
    devices: TypeAdapter[list[Any]] = TypeAdapter(list[config_union()])  # type: ignore[misc,arg-type]
    entries = [
        {"id": "cam-1", "kind": "onvif", "host": "192.0.2.21", "password": "x"},
        {"id": "s", "kind": "sim"},
    ]
    configs = devices.validate_python(entries)
    assert isinstance(configs[0], OnvifConfig)
    assert isinstance(build_driver(configs[0], _events), OnvifDriver)
    with pytest.raises(ValidationError, match="tile_profile"):
        devices.validate_python([{**entries[0], "tile_profile": "tiny"}])


def test_driver_against_the_simulator(sim: OnvifCameraSim) -> None:
    captures = Captures()

    async def scenario() -> None:
        driver = _driver(sim.port)
        driver.attach_capture(captures)
        await driver.connect()
        try:
            info = driver.describe()
            assert info.kind == "onvif"
            assert "ptz" in info.capabilities
            assert driver.stream_uri == sim.mjpeg_uri("sub")  # the substream feeds tiles
            health = await driver.poll()
            assert health.status is DeviceStatus.UP, health
            readings = {r.point: r.value for r in health.readings}
            assert abs(readings["clock_skew_seconds"]) < 2
            assert "frame_age_seconds" not in readings  # nobody wants frames

            await driver.execute("goto_preset", {"preset": "1"})
            moved = await driver.execute("ptz_move", {"pan": 1.0, "tilt": 0.5, "timeout_s": 5})
            assert moved == {"pan": 1.0, "tilt": 0.5, "zoom": 0.0, "timeout_s": 5.0}
            await _until(lambda: sim.ptz_position()[0] > 0.05, what="the PTZ head to move")
            await driver.execute("ptz_stop", {})
            stopped = sim.ptz_position()
            assert stopped[1] > 0
            assert sim.ptz_position() == stopped
            presets = await driver.execute("presets", {})
            assert presets == {
                "presets": [{"token": "1", "name": "preset 1"}, {"token": "2", "name": "preset 2"}]
            }
            await driver.execute("goto_preset", {"preset": 2})
            assert sim.ptz_position() == (0.5, -0.25, 0.5)

            result = await driver.execute("snapshot", {"case": "C-2026-0001", "cmd_id": "cmd-9"})
            assert (result["width"], result["height"]) == (1280, 720)  # snapshots come from the main stream

            with pytest.raises(BadArguments):
                await driver.execute("ptz_move", {"pan": 2})
            with pytest.raises(BadArguments):
                await driver.execute("ptz_move", {"pan": 0.5, "timeout_s": 0})
            with pytest.raises(BadArguments):
                await driver.execute("goto_preset", {})
            with pytest.raises(DeviceError, match="protocol"):
                await driver.execute("goto_preset", {"preset": "99"})
            with pytest.raises(UnknownAction):
                await driver.execute("reboot", {})
        finally:
            await driver.close()

    run(scenario())
    [cap] = captures.items
    assert (cap.kind, cap.media_type, cap.case, cap.cmd_id) == (
        "snapshot",
        "image/jpeg",
        "C-2026-0001",
        "cmd-9",
    )
    image = cv2.imdecode(np.frombuffer(cap.data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    x, y = probe_point(image.shape[1], image.shape[0])
    assert camera_index_for_colour(image[y, x]) == 6
    assert abs(time.time() - (decode_timestamp(image) or 0)) < 10


def test_frames_from_mjpeg(sim: OnvifCameraSim) -> None:
    async def scenario() -> list[float]:
        driver = _driver(sim.port)
        await driver.connect()
        try:
            assert driver.latest_frame() is None
            driver.want_frames(5)
            await _until(driver.latest_frame, what="a first frame")
            latencies = []
            last_ts = 0.0
            for _ in range(5):

                def newer(last: float = last_ts) -> tuple[float, Any] | None:
                    f = driver.latest_frame()
                    return f if f is not None and f[0] > last else None

                ts, frame = await _until(newer, what="a newer frame")
                last_ts = ts
                assert frame.shape == (360, 640, 3)
                x, y = probe_point(640, 360)
                assert camera_index_for_colour(frame[y, x]) == 6
                made = decode_timestamp(frame)
                assert made is not None
                latencies.append(ts - made)
            health = await driver.poll()
            assert health.status is DeviceStatus.UP, health
            readings = {r.point: r.value for r in health.readings}
            assert readings["fps"] > 0
            assert 0 <= readings["frame_age_seconds"] < 5
            driver.want_frames(0)
            assert driver.latest_frame() is None
            assert driver.reader is None
            health = await driver.poll()
            assert "frame_age_seconds" not in {r.point for r in health.readings}
            return latencies
        finally:
            await driver.close()

    latencies = run(scenario())
    assert all(-0.05 < lat < 2.0 for lat in latencies), latencies  # generous: 2 shared cores
    print(f"MJPEG frame latency: median {sorted(latencies)[len(latencies) // 2] * 1000:.0f} ms")


def test_frames_over_rtsp_from_the_gstreamer_server() -> None:
    """The simulator's RTSP side (GStreamer, run by Debian's python): it opens, and frames are fresh."""
    options = OnvifCameraOptions(name="rtsp-1", index=2, password=PASSWORD, rtsp=True, fps=10)
    with OnvifCameraSim(options) as cam:

        async def scenario() -> tuple[float, list[float]]:
            driver = _driver(cam.port)
            await driver.connect()
            try:
                assert driver.stream_uri == f"rtsp://admin:{PASSWORD}@127.0.0.1:{cam.rtsp_port}/rtsp-1/sub"
                driver.want_frames(5)
                await _until(driver.latest_frame, limit_s=30, what="a first RTSP frame")
                reader = driver.reader
                assert reader is not None
                assert reader.open_seconds is not None
                latencies, last_ts = [], 0.0
                for _ in range(5):

                    def newer(last: float = last_ts) -> tuple[float, Any] | None:
                        f = driver.latest_frame()
                        return f if f is not None and f[0] > last else None

                    ts, frame = await _until(newer, what="a newer RTSP frame")
                    last_ts = ts
                    assert frame.shape == (360, 640, 3)
                    x, y = probe_point(640, 360)
                    assert camera_index_for_colour(frame[y, x]) == 2
                    made = decode_timestamp(frame)
                    assert made is not None, "the RTSP picture carries the scene's time code"
                    latencies.append(ts - made)
                assert (await driver.poll()).status is DeviceStatus.UP
                return reader.open_seconds, latencies
            finally:
                await driver.close()

        opened, latencies = run(scenario())
    assert all(0 <= lat < 3.0 for lat in latencies), latencies  # recent; generous on 2 shared cores
    median = sorted(latencies)[len(latencies) // 2]
    print(f"RTSP open {opened:.2f} s, frame latency: median {median * 1000:.0f} ms")


def test_a_dead_stream_makes_the_camera_degraded(sim: OnvifCameraSim) -> None:
    async def scenario() -> None:
        driver = _driver(sim.port, open_timeout_s=1, stale_after_s=0.5)
        await driver.connect()
        try:
            driver._stream_uri = (
                f"http://127.0.0.1:{free_port()}/gone/video.mjpg"  # the camera's encoder died
            )
            driver.want_frames(1)
            reader = driver.reader
            assert reader is not None
            await _until(lambda: reader.error, what="the reader to report its error")
            await _until(lambda: reader.running_for() > 0.5, what="the stream's grace period to end")
            health = await driver.poll()
            assert health.status is DeviceStatus.DEGRADED
            assert "no frame yet: cannot open http://127.0.0.1:" in health.reason
        finally:
            await driver.close()

    run(scenario())


def test_clock_skew_detected_and_compensated() -> None:
    with OnvifCameraSim(OnvifCameraOptions(name="skewed", clock_skew_s=3600, password=PASSWORD)) as skewed:

        async def scenario() -> None:
            driver = _driver(skewed.port)
            await driver.connect()
            try:
                health = await driver.poll()  # an authenticated call, signed with the camera's time
                readings = {r.point: r.value for r in health.readings}
                assert readings["clock_skew_seconds"] == pytest.approx(3600, abs=2)
                assert health.status is DeviceStatus.DEGRADED
                assert re.fullmatch(r"camera clock \+(3599|3600|3601) s off \(compensated\)", health.reason)
                presets = (await driver.execute("presets", {}))["presets"]
                assert isinstance(presets, list)
                assert len(presets) == 2
            finally:
                await driver.close()
            tolerant = _driver(skewed.port, clock_warn_s=0)
            await tolerant.connect()
            try:
                assert (await tolerant.poll()).status is DeviceStatus.UP
            finally:
                await tolerant.close()

        run(scenario())
        assert skewed.requests["GetDeviceInformation"] >= 3


async def _supervised_state(driver: OnvifDriver) -> DevStateBody:
    states: list[DevStateBody] = []
    sup = Supervisor(driver, states.append)
    task = asyncio.create_task(sup.run())
    try:
        await _until(lambda: states and states[-1].status is DeviceStatus.DOWN, what="the device to go down")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await sup.close_driver()
    return states[-1]


def test_wrong_password_is_an_unauthorized_state(sim: OnvifCameraSim) -> None:
    state = run(_supervised_state(_driver(sim.port, password="nope")))
    assert state.reason == "connect failed"
    assert (state.last_error or "").startswith("unauthorized: ")
    assert "nope" not in (state.last_error or "")


def test_password_changed_on_the_camera() -> None:
    """After connecting, the camera's password changes: snapshots and the next poll say unauthorized."""
    with OnvifCameraSim(OnvifCameraOptions(name="changing", password=PASSWORD)) as cam:

        async def scenario() -> None:
            driver = _driver(cam.port)
            driver.attach_capture(Captures())
            await driver.connect()
            try:
                cam.options.password = "rotated"
                with pytest.raises(DeviceError, match=r"^unauthorized: "):
                    await driver.execute("snapshot", {})
                with pytest.raises(DeviceError, match=r"^unauthorized: "):
                    await driver.poll()
            finally:
                await driver.close()

        run(scenario())


def test_camera_gone_is_an_unreachable_state() -> None:
    state = run(_supervised_state(_driver(free_port())))
    assert (state.last_error or "").startswith("unreachable: ")

    # a camera that disappears after connecting: the next poll fails, and says why
    with OnvifCameraSim(OnvifCameraOptions(name="leaving", password=PASSWORD)) as leaving:

        async def scenario() -> None:
            driver = _driver(leaving.port)
            await driver.connect()
            try:
                assert (await driver.poll()).status is DeviceStatus.UP
                await asyncio.to_thread(leaving.stop)
                with pytest.raises(DeviceError, match=r"^unreachable: "):
                    await driver.poll()
            finally:
                await driver.close()

        run(scenario())


def test_broken_xml_is_a_protocol_state() -> None:
    async def broken(_request: web.Request) -> web.Response:
        return web.Response(text="<s:Envelope><s:Body><oops", content_type="application/soap+xml")

    with HttpStub(broken) as stub:
        state = run(_supervised_state(_driver(stub.port)))
    assert (state.last_error or "").startswith("protocol: ")


def test_snapshots_can_be_kept_out_of_cases(sim: OnvifCameraSim) -> None:
    async def scenario() -> None:
        driver = _driver(sim.port, snapshot_case_capture=False)
        driver.attach_capture(Captures())
        await driver.connect()
        try:
            with pytest.raises(BadArguments, match="snapshot_case_capture"):
                await driver.execute("snapshot", {"case": "C-1"})
        finally:
            await driver.close()

    run(scenario())


# -- ipycam: an independent ONVIF camera ------------------------------------------------------------------


class IpycamOnvif:
    """ipycam's ONVIF service behind our own aiohttp handler (RECIPES.md): its HTTP handler demands auth even
    for GetSystemDateAndTime, which real cameras answer without, so this one lets that single call through
    and otherwise does what ipycam's own handler does (``verify_usernametoken``, then ``handle_action``)."""

    def __init__(self, username: str, password: str) -> None:
        from ipycam.config import CameraConfig
        from ipycam.onvif import ONVIFService
        from ipycam.ptz import PTZController

        self.config = CameraConfig(
            name="ipycam-1", local_ip="127.0.0.1", username=username, password=password
        )
        self.ptz = PTZController()
        self.service = ONVIFService(self.config, self.ptz)
        self.stub = HttpStub(self._handle)

    async def _handle(self, request: web.Request) -> web.Response:
        body = (await request.read()).decode()
        action = next((a for a in _IPYCAM_ACTIONS if f"{a}" in body.split("Body", 1)[-1]), "")
        if action != "GetSystemDateAndTime" and not self.service.verify_usernametoken(body):
            fault = self.service.fault("Sender not authorized")
            return web.Response(text=fault, status=401, content_type="application/soap+xml")
        return web.Response(
            text=self.service.handle_action(action, body), content_type="application/soap+xml"
        )

    def __enter__(self) -> IpycamOnvif:
        self.stub.__enter__()
        self.config.onvif_port = self.stub.port  # the addresses it hands out point back at this handler
        return self

    def __exit__(self, *exc: object) -> None:
        self.stub.__exit__(*exc)
        self.ptz.stop()


_IPYCAM_ACTIONS = (
    "GetSystemDateAndTime", "GetDeviceInformation", "GetCapabilities", "GetServices", "GetScopes",
    "GetProfiles", "GetStreamUri", "GetSnapshotUri", "GetNodes", "GetConfigurations", "GetStatus",
    "ContinuousMove", "Stop", "GetPresets", "GotoPreset",
)  # fmt: skip


@pytest.fixture
def ipycam(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[IpycamOnvif]:
    monkeypatch.chdir(tmp_path)  # its PTZ controller reads and writes ptz_presets.json in the working dir
    with IpycamOnvif("operator", PASSWORD) as cam:
        yield cam


def test_driver_against_ipycam(ipycam: IpycamOnvif) -> None:
    async def scenario() -> None:
        client = OnvifClient("127.0.0.1", ipycam.stub.port, "operator", PASSWORD)
        await client.connect()
        try:
            info = await client.device_info()
            assert info.manufacturer == ipycam.config.manufacturer
            profiles = await client.profiles()
            assert [p.token for p in profiles] == ["Profile_Main", "Profile_Sub"]
            assert await client.stream_uri("Profile_Sub") == ipycam.config.sub_stream_rtsp
            snapshot_uri = await client.snapshot_uri("Profile_Main")
            assert snapshot_uri == f"http://127.0.0.1:{ipycam.stub.port}/snapshot.jpg"
            assert abs(client.clock_skew_s or 0.0) < 2
        finally:
            await client.close()

        driver = _driver(ipycam.stub.port, username="operator")
        await driver.connect()
        try:
            assert (
                driver.stream_uri == f"rtsp://operator:{PASSWORD}@127.0.0.1:8554/video_sub"
            )  # credentials added
            assert (await driver.poll()).status is DeviceStatus.UP
            await driver.execute("ptz_move", {"pan": 0.8, "tilt": 0.0})
            await _until(lambda: ipycam.ptz.get_status()["pan"] > 0.05, what="ipycam's PTZ to move")
            await driver.execute("ptz_stop", {})
            assert not ipycam.ptz.get_status()["moving"]
            # ipycam 1.3.0 answers GetPresets with an undeclared ``ptz:``/``tptz:`` prefix: not valid XML, and the
            # driver says so instead of guessing
            with pytest.raises(DeviceError, match=r"^protocol: GetPresets: "):
                await driver.execute("presets", {})
            await driver.execute("goto_preset", {"preset": "home"})
            assert ipycam.ptz.get_status()["pan"] == 0.0
        finally:
            await driver.close()

    run(scenario())


def test_wrong_password_on_ipycam_is_unauthorized(ipycam: IpycamOnvif) -> None:
    state = run(_supervised_state(_driver(ipycam.stub.port, username="operator", password="wrong")))
    assert (state.last_error or "").startswith("unauthorized: ")
