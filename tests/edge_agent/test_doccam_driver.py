"""The ``doccam`` driver against the document-camera simulator, read by OpenCV through its MJPEG URL: captures
of skewed pages are rectified pages with corners within 2 % of the truth; no page, no capture; an unreachable
or stalled source is down with its reason; the preview serves JPEG frames on loopback."""

from __future__ import annotations

import asyncio
import hashlib
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from pydantic import JsonValue, ValidationError

from edge_agent.drivers.base import Capture, CaptureRef
from edge_agent.drivers.doccam import DoccamConfig, DoccamDriver, redact
from edge_agent.errors import BadArguments, DeviceError, UnknownAction
from edge_agent.supervisor import Supervisor
from protocols.messages import DeviceStatus, DevStateBody
from simulators.doccam import DoccamSim, DoccamSimOptions, Scene
from tests.edge_agent.test_doccam_vision import TOLERANCE, assert_is_the_page
from tests.support import free_port

ROOT = Path(__file__).resolve().parents[2]


class CaptureSink:
    """Stands in for the agent's blob pipeline: keeps every capture, answers with its hash."""

    def __init__(self) -> None:
        self.captures: list[Capture] = []

    async def __call__(self, capture: Capture) -> CaptureRef:
        self.captures.append(capture)
        return CaptureRef(hashlib.sha256(capture.data).hexdigest(), len(capture.data), capture.media_type)


def _no_events(event_type: str, data: dict[str, JsonValue]) -> None:
    raise AssertionError(f"unexpected event {event_type} {data}")


def _driver(source: str | int, sink: CaptureSink | None = None, **kw: object) -> DoccamDriver:
    driver = DoccamDriver(DoccamConfig.model_validate({"id": "doccam-1", "source": source, **kw}), _no_events)
    if sink is not None:
        driver.attach_capture(sink)
    return driver


async def _show(sim: DoccamSim, scene: Scene) -> None:
    """Put ``scene`` on the desk and wait until the stream has carried it for a few frames."""
    truth = await asyncio.to_thread(sim.set_scene, scene)
    assert await asyncio.to_thread(sim.wait_sent, truth.version, 3)


@pytest.fixture(scope="module", params=[(1920, 1080), (1600, 1200)], ids=["1080p", "2MP"])
def any_sim(request: pytest.FixtureRequest) -> Iterator[DoccamSim]:
    """The simulator at the default resolution and at 2 MP."""
    width, height = request.param
    s = DoccamSim(DoccamSimOptions(width=width, height=height, fps=20)).start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def sim() -> Iterator[DoccamSim]:
    """A 2 MP simulator for the tests that need only one."""
    s = DoccamSim(DoccamSimOptions(width=1600, height=1200, fps=20)).start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def small_sim() -> Iterator[DoccamSim]:
    """A small, cheap picture for health and preview."""
    s = DoccamSim(DoccamSimOptions(width=960, height=540, fps=20)).start()
    yield s
    s.stop()


SCENES = {
    "1080p": [
        Scene(seed=0),
        Scene(seed=11),
        Scene(seed=21),
        Scene(seed=40, angle=45.0, tilt_x=25.0, tilt_y=-25.0),
    ],
    "2MP": [Scene(seed=1), Scene(seed=4), Scene(seed=41, angle=-40.0, tilt_x=-22.0, tilt_y=22.0)],
}


def test_capture_rectifies_skewed_pages_read_through_the_mjpeg_url(any_sim: DoccamSim) -> None:
    sim = any_sim
    sink = CaptureSink()
    driver = _driver(sim.url, sink)
    label = "1080p" if sim.options.width == 1920 else "2MP"
    errors: list[float] = []

    async def scenario() -> None:
        await driver.connect()
        try:
            for n, scene in enumerate(SCENES[label]):
                await _show(sim, scene)
                truth = sim.truth
                assert truth.corners is not None
                result = await driver.execute("capture", {"case": "case-7", "cmd_id": f"cmd-{n}"})
                capture = sink.captures[-1]
                assert len(sink.captures) == n + 1
                assert (capture.media_type, capture.kind, capture.case, capture.cmd_id) == (
                    "image/jpeg",
                    "photo",
                    "case-7",
                    f"cmd-{n}",
                )
                assert result["sha256"] == hashlib.sha256(capture.data).hexdigest()
                assert result["size"] == len(capture.data)
                corners = np.array(result["corners"])
                assert np.allclose(corners, np.array(capture.meta["corners"]))
                error = float((np.abs(corners - truth.corners) / [truth.width, truth.height]).max())
                errors.append(error)
                assert error < TOLERANCE, (scene, error)
                page = np.asarray(
                    cv2.imdecode(np.frombuffer(capture.data, np.uint8), cv2.IMREAD_COLOR), np.uint8
                )
                assert page.shape == (2339, 1654, 3)  # A4 at 200 dpi, upright
                assert (capture.meta["width"], capture.meta["height"], capture.meta["dpi"]) == (
                    1654,
                    2339,
                    200,
                )
                assert (capture.meta["frame_width"], capture.meta["frame_height"]) == (
                    truth.width,
                    truth.height,
                )
                assert_is_the_page(page)
        finally:
            await driver.close()

    asyncio.run(scenario())
    print(f"doccam {label}: corner errors (fraction of frame) {[round(e, 5) for e in errors]}")


def test_resolution_sets_the_dpi_and_bad_arguments_are_rejected(sim: DoccamSim) -> None:
    sink = CaptureSink()
    driver = _driver(sim.url, sink, jpeg_quality=80, clean_up=False)

    async def scenario() -> None:
        await driver.connect()
        try:
            await _show(sim, Scene(seed=2))
            result = await driver.execute("capture", {"resolution": 100})
            assert (result["width"], result["height"], result["dpi"]) == (827, 1169, 100)
            assert sink.captures[-1].case is None
            bad_args: list[dict[str, JsonValue]] = [
                {"resolution": 20},
                {"resolution": "high"},
                {"resolution": True},
                {"case": 0},  # ids are positive (the coordinator sends integers)
                {"zoom": 2},
            ]
            for bad in bad_args:
                with pytest.raises(BadArguments):
                    await driver.execute("capture", bad)
            with pytest.raises(UnknownAction):
                await driver.execute("scan", {})
            assert len(sink.captures) == 1
        finally:
            await driver.close()

    asyncio.run(scenario())


def test_no_document_in_view_fails_and_captures_nothing(sim: DoccamSim) -> None:
    sink = CaptureSink()
    driver = _driver(sim.url, sink)

    async def scenario() -> None:
        await driver.connect()
        try:
            await _show(sim, Scene(seed=5, empty=True))
            with pytest.raises(DeviceError, match="no document in view"):
                await driver.execute("capture", {"case": "case-7"})
            assert sink.captures == []
            assert (await driver.poll()).status is DeviceStatus.UP  # the camera itself is fine
        finally:
            await driver.close()

    asyncio.run(scenario())


def test_health_readings_and_a_stalled_stream(small_sim: DoccamSim) -> None:
    sim = small_sim
    driver = _driver(sim.url, stale_after_s=0.5, open_timeout_s=3.0)

    async def scenario() -> None:
        await driver.connect()
        try:
            health = await driver.poll()
            assert health.status is DeviceStatus.UP
            readings = {r.point: r for r in health.readings}
            assert readings["frame_age_seconds"].unit == "s"
            assert 0 <= readings["frame_age_seconds"].value < 0.5
            assert readings["fps"].unit == "Hz"
            sim.pause()  # a stalled camera: the connection stays, frames stop
            try:
                message = await _until_poll_fails(driver)
            finally:
                sim.resume()
            assert re.search(
                r"no frame from http://127\.0\.0\.1:\d+/video\.mjpg for [\d.]+ s|stalled", message
            )
        finally:
            await driver.close()

    asyncio.run(scenario())


def test_a_stream_that_ends_is_down_with_the_reason() -> None:
    own = DoccamSim(DoccamSimOptions(width=640, height=480)).start()
    driver = _driver(own.url)

    async def scenario() -> None:
        await driver.connect()
        try:
            assert (await driver.poll()).status is DeviceStatus.UP
            await asyncio.to_thread(own.stop)
            message = await _until_poll_fails(driver)
            assert "the stream ended" in message or "no frame" in message
        finally:
            await driver.close()

    asyncio.run(scenario())


async def _until_poll_fails(driver: DoccamDriver, limit_s: float = 15.0) -> str:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while True:
        try:
            await driver.poll()
        except DeviceError as err:
            return str(err)
        assert loop.time() < deadline, "poll kept answering up"
        await asyncio.sleep(0.05)


def test_unreachable_source_is_down_with_the_reason() -> None:
    url = f"http://127.0.0.1:{free_port()}/video.mjpg"  # nobody listens there

    async def scenario() -> None:
        driver = _driver(url)
        with pytest.raises(DeviceError, match=re.escape(f"cannot open {url}")):
            await driver.connect()
        with pytest.raises(DeviceError, match="not connected"):
            await driver.poll()
        changes: asyncio.Queue[DevStateBody] = asyncio.Queue()
        supervisor = Supervisor(_driver(url, restart_base_s=30.0), changes.put_nowait)
        task = asyncio.create_task(supervisor.run())
        try:
            async with asyncio.timeout(10):
                state = await changes.get()
                # Cancel only once it waits out its backoff: on Python 3.11 a cancel that meets
                # asyncio.wait_for(driver.close()) just as close() finishes is swallowed.
                while supervisor.restarts < 1:  # noqa: ASYNC110 - the supervisor has no event for it
                    await asyncio.sleep(0.01)
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        assert state.status is DeviceStatus.DOWN
        assert state.reason == "connect failed"
        assert state.last_error == f"cannot open {url}"

    asyncio.run(scenario())


def test_preview_serves_small_jpeg_frames_on_loopback(small_sim: DoccamSim) -> None:
    sim = small_sim
    driver = _driver(sim.url, preview_port=0, preview_width=640)

    async def scenario() -> None:
        await driver.connect()
        try:
            answer = await driver.execute("preview", {})
            url = str(answer["url"])
            assert re.fullmatch(r"http://127\.0\.0\.1:\d+/preview\.mjpg", url)
            jpeg = await asyncio.to_thread(
                lambda: urllib.request.urlopen(str(answer["snapshot"]), timeout=10).read()
            )
            assert jpeg[:2] == b"\xff\xd8"
            still = np.asarray(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR), np.uint8)
            assert still.shape[1] == 640
            frames = await asyncio.to_thread(_read_frames, url, 3)
            assert all(f.shape[1] == 640 for f in frames)
            assert frames[0].shape[0] == round(sim.options.height * 640 / sim.options.width)
        finally:
            await driver.close()

    asyncio.run(scenario())


def _read_frames(url: str, n: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(url, cv2.CAP_FFMPEG)
    try:
        assert cap.isOpened()
        frames = []
        for _ in range(n):
            ok, frame = cap.read()
            assert ok
            frames.append(frame)
        return frames
    finally:
        cap.release()


def test_preview_not_configured_is_a_clear_error(small_sim: DoccamSim) -> None:
    driver = _driver(small_sim.url)

    async def scenario() -> None:
        await driver.connect()
        try:
            with pytest.raises(DeviceError, match="preview_port is not configured"):
                await driver.execute("preview", {})
        finally:
            await driver.close()

    asyncio.run(scenario())


def test_config_and_describe() -> None:
    cfg = DoccamConfig.model_validate({"id": "doccam-1", "source": "0", "preview_port": 8765})
    assert cfg.source == 0
    assert (cfg.width, cfg.height, cfg.paper, cfg.dpi) == (1920, 1080, "A4", 200)
    url = DoccamConfig.model_validate({"id": "d", "source": "rtsp://u:secret@10.0.0.5:554/doc"}).source
    assert url == "rtsp://u:secret@10.0.0.5:554/doc"
    assert redact(url) == "rtsp://u:***@10.0.0.5:554/doc"
    assert redact(0) == "video device 0"
    for bad in ({"sources": 0}, {"source": -1}, {"dpi": 1200}, {"paper": "A0"}, {"preview_port": 70000}):
        with pytest.raises(ValidationError):
            DoccamConfig.model_validate({"id": "d", **bad})
    info = _driver(0).describe()
    assert (info.kind, info.model, info.commands) == ("doccam", "document-camera", ["capture", "preview"])
    assert "preview" in info.capabilities


def test_the_documented_config_example_validates() -> None:
    import tomllib

    text = (ROOT / "docs/devices/document-camera.md").read_text()
    block = re.search(r"```toml\n(.*?)```", text, re.S)
    assert block is not None
    devices = tomllib.loads(block.group(1))["devices"]
    for entry in devices:
        DoccamConfig.model_validate(entry)


def test_a_capture_waits_for_a_fresh_frame_without_blocking_the_loop(sim: DoccamSim) -> None:
    """While OpenCV reads and the page is processed, the event loop keeps ticking."""
    sink = CaptureSink()
    driver = _driver(sim.url, sink)

    async def scenario() -> None:
        await driver.connect()
        try:
            await _show(sim, Scene(seed=3))
            ticks = 0

            async def ticker() -> None:
                nonlocal ticks
                while True:
                    await asyncio.sleep(0.01)
                    ticks += 1

            task = asyncio.create_task(ticker())
            result = await driver.execute("capture", {})
            task.cancel()
            # The capture waits two frame intervals and works on the page for a tenth of a second or more;
            # a loop blocked for that time would tick at most once, after it.
            assert float(str(result["seconds"])) > 0.05
            assert ticks >= 3
        finally:
            await driver.close()

    asyncio.run(scenario())


def test_frames_are_decoded_only_while_someone_needs_them(small_sim: DoccamSim) -> None:
    driver = _driver(small_sim.url, preview_port=0)

    async def scenario() -> None:
        await driver.connect()
        try:
            reader = driver._reader
            assert reader is not None
            assert reader.latest is not None
            first = reader.latest[0]  # decoded while opening

            def five_more_frames() -> bool:
                with reader.cond:
                    return reader.cond.wait_for(lambda: reader.seq >= first + 5, 10)

            assert await asyncio.to_thread(five_more_frames)
            assert reader.latest[0] == first  # grabbed, not decoded: nobody asked
            snapshot = str((await driver.execute("preview", {}))["snapshot"])
            await asyncio.to_thread(lambda: urllib.request.urlopen(snapshot, timeout=10).read())
            assert reader.latest[0] > first + 5  # a viewer asked: a frame read after the request
        finally:
            await driver.close()

    asyncio.run(scenario())
