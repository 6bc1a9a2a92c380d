"""The labelled scenes and their MJPEG server, read back the way the wall and the drivers read them."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator

import cv2
import numpy as np
import pytest

from simulators.scene import (
    PALETTE,
    SceneServer,
    SceneSpec,
    camera_index_for_colour,
    decode_timestamp,
    jpeg,
    main,
    probe_point,
    render,
)


def _decode(data: bytes) -> np.ndarray:
    frame = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert frame is not None
    return frame


@pytest.fixture(scope="module")
def server() -> Iterator[SceneServer]:
    s = SceneServer(fps=10)
    for i in range(16):
        s.add(SceneSpec(f"cam{i + 1:02d}", index=i))
    s.start()
    yield s
    s.stop()


def test_timestamp_survives_jpeg_and_scaling() -> None:
    ts = 1_790_000_000.123
    frame = render(SceneSpec("hall-3", index=7, width=1280, height=720), ts)
    assert decode_timestamp(frame) == pytest.approx(ts, abs=0.0005)
    for w, h in [(640, 360), (480, 270), (160, 90)]:
        small = cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA)
        again = _decode(jpeg(small, 70))
        assert decode_timestamp(again) == pytest.approx(ts, abs=0.0005), (w, h)
        x, y = probe_point(w, h)
        assert camera_index_for_colour(again[y, x]) == 7


def test_a_frame_without_a_code_decodes_to_none() -> None:
    assert decode_timestamp(np.zeros((360, 640, 3), np.uint8)) is None
    assert decode_timestamp(np.full((360, 640, 3), 255, np.uint8)) is None


def test_palette_colours_are_told_apart() -> None:
    for i, colour in enumerate(PALETTE):
        frame = render(SceneSpec("x", index=i, width=320, height=180))
        x, y = probe_point(320, 180)
        assert tuple(int(v) for v in frame[y, x]) == colour
        assert camera_index_for_colour(colour) == i
    # a name without an index hashes to a fixed colour
    assert SceneSpec("lobby").background == SceneSpec("lobby").background


def test_snapshot_over_http(server: SceneServer) -> None:
    with urllib.request.urlopen(server.snapshot_url("cam03"), timeout=5) as r:
        assert r.headers["Content-Type"] == "image/jpeg"
        frame = _decode(r.read())
    x, y = probe_point(frame.shape[1], frame.shape[0])
    assert camera_index_for_colour(frame[y, x]) == 2
    ts = decode_timestamp(frame)
    assert ts is not None
    assert abs(time.time() - ts) < 5


def test_unknown_camera_is_404(server: SceneServer) -> None:
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(server.snapshot_url("nope"), timeout=5)
    assert info.value.code == 404
    info.value.close()


def test_opencv_reads_many_mjpeg_streams(server: SceneServer) -> None:
    """Four of the sixteen cameras at once: each is its own colour, with fresh, advancing timestamps."""
    caps = {i: cv2.VideoCapture(server.video_url(f"cam{i + 1:02d}"), cv2.CAP_FFMPEG) for i in (0, 5, 10, 15)}
    try:
        for i, cap in caps.items():
            assert cap.isOpened()
            stamps = []
            for _ in range(3):
                ok, frame = cap.read()
                assert ok
                x, y = probe_point(frame.shape[1], frame.shape[0])
                assert camera_index_for_colour(frame[y, x]) == i
                ts = decode_timestamp(frame)
                assert ts is not None
                assert abs(time.time() - ts) < 5  # generous: 2 shared cores
                stamps.append(ts)
            assert stamps == sorted(stamps)
            assert stamps[-1] > stamps[0]
    finally:
        for cap in caps.values():
            cap.release()


def test_default_paths_serve_the_first_camera(server: SceneServer) -> None:
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/snapshot.jpg", timeout=5) as r:
        frame = _decode(r.read())
    x, y = probe_point(frame.shape[1], frame.shape[0])
    assert camera_index_for_colour(frame[y, x]) == 0


def test_cli_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    assert "MJPEG" in capsys.readouterr().out
