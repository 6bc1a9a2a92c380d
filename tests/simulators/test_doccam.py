"""The document-camera simulator: MJPEG that OpenCV reads, snapshot and corners endpoints, scene changes
in-process and over HTTP, true corners that really are the page's, loopback only, and its command line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from simulators.doccam import DoccamSim, DoccamSimOptions, Scene, main
from tests.support import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sim() -> Iterator[DoccamSim]:
    s = DoccamSim(DoccamSimOptions(width=1600, height=1200, fps=20, scene=Scene(seed=3))).start()
    yield s
    s.stop()


def _get(url: str) -> tuple[str, bytes]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.headers["Content-Type"], resp.read()


def _post(url: str, body: object) -> dict[str, object]:
    req = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        data = json.loads(resp.read())
    assert isinstance(data, dict)
    return data


def _decode(jpeg: bytes) -> npt.NDArray[np.uint8]:
    return np.asarray(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR), np.uint8)


def test_opencv_reads_the_mjpeg_stream_at_the_configured_size(sim: DoccamSim) -> None:
    assert sim.url.startswith("http://127.0.0.1:")
    cap = cv2.VideoCapture(sim.url, cv2.CAP_FFMPEG)
    try:
        assert cap.isOpened()
        for _ in range(3):
            ok, frame = cap.read()
            assert ok
            assert frame.shape == (1200, 1600, 3)
    finally:
        cap.release()


def test_snapshot_and_corners(sim: DoccamSim) -> None:
    base = f"http://127.0.0.1:{sim.port}"
    kind, jpeg = _get(base + "/snapshot.jpg")
    assert kind == "image/jpeg"
    assert _decode(jpeg).shape == (1200, 1600, 3)
    kind, body = _get(base + "/corners")
    assert kind == "application/json"
    truth = json.loads(body)
    assert sim.truth.corners is not None
    assert truth["document"] is True
    assert (truth["width"], truth["height"]) == (1600, 1200)
    assert np.allclose(truth["corners"], sim.truth.corners, atol=0.01)


def test_the_true_corners_are_the_page_corners(sim: DoccamSim) -> None:
    """Just inside every true corner is paper, just outside is desk; the marker corners enclose black."""
    for scene in (Scene(seed=1), Scene(seed=21, angle=-40.0, tilt_x=20.0)):
        truth = sim.set_scene(scene)
        gray = cv2.cvtColor(_decode(sim.frame()[1]), cv2.COLOR_BGR2GRAY).astype(float)
        assert truth.corners is not None
        assert truth.marker is not None
        centre = truth.corners.mean(axis=0)
        for corner in truth.corners:
            toward = (centre - corner) / np.linalg.norm(centre - corner)
            x_in, y_in = (corner + 12 * toward).round().astype(int)
            x_out, y_out = (corner - 12 * toward).round().astype(int)
            assert gray[y_in, x_in] > 160, "paper inside the corner"
            assert gray[y_out, x_out] < 140, "desk outside the corner"
        mx, my = truth.marker.mean(axis=0).round().astype(int)
        assert gray[my, mx] < 60, "the marker box is black"


def test_scene_changes_in_process_and_over_http(sim: DoccamSim) -> None:
    base = f"http://127.0.0.1:{sim.port}"
    before = sim.truth
    after = sim.set_scene(Scene(seed=7))
    assert after.version == before.version + 1
    assert after.corners is not None
    assert before.corners is not None
    assert not np.allclose(after.corners, before.corners)
    answer = _post(base + "/scene", {"seed": 8, "angle": 30, "tilt_x": -10})
    assert answer["version"] == after.version + 1
    assert answer["scene"] == {
        "seed": 8,
        "angle": 30.0,
        "tilt_x": -10.0,
        "tilt_y": None,
        "scale": None,
        "empty": False,
    }
    assert np.allclose(answer["corners"], sim.truth.corners, atol=0.01)  # type: ignore[arg-type]
    empty = _post(base + "/scene", {"seed": 8, "empty": True})
    assert (empty["document"], empty["corners"]) == (False, None)
    for bad in ({"seed": -1}, {"angle": 90}, {"scale": 2}, {"colour": "red"}, [1]):
        with pytest.raises(urllib.error.HTTPError) as err:
            _post(base + "/scene", bad)
        assert err.value.code == 400
        err.value.close()
    with pytest.raises(urllib.error.HTTPError) as missing:
        _get(base + "/nothing")
    assert missing.value.code == 404
    missing.value.close()


def test_wait_sent_and_pause(sim: DoccamSim) -> None:
    cap = cv2.VideoCapture(sim.url, cv2.CAP_FFMPEG)
    try:
        assert cap.isOpened()
        truth = sim.set_scene(Scene(seed=9))
        assert sim.wait_sent(truth.version, frames=2)
        sim.pause()
        try:
            paused = sim.truth.version
            sim.set_scene(Scene(seed=10))
            assert not sim.wait_sent(paused + 1, frames=1, timeout=0.5)  # nothing goes out while paused
        finally:
            sim.resume()
        assert sim.wait_sent(paused + 1, frames=1)
    finally:
        cap.release()


def test_binds_loopback_only() -> None:
    s = DoccamSim(DoccamSimOptions(width=320, height=240)).start()
    try:
        assert s._server is not None
        assert s._server.server_address[0] == "127.0.0.1"
    finally:
        s.stop()


def test_help_documents_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for option in ("--port", "--width", "--height", "--fps", "--seed", "--empty", "/corners"):
        assert option in out


def test_python_m_runs_until_sigterm() -> None:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "simulators.doccam",
        "--port",
        str(port),
        "--width",
        "640",
        "--height",
        "480",
    ]
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True, env=env) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()  # printed once it listens
            assert f"http://127.0.0.1:{port}/video.mjpg" in line
            truth = json.loads(_get(f"http://127.0.0.1:{port}/corners")[1])
            assert (truth["width"], truth["height"], truth["document"]) == (640, 480, True)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(10) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
