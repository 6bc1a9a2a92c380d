"""Tiles as YCbCr 4:2:0 planes: libturbojpeg and the OpenCV fallback agree, other subsamplings and grey are
brought to 4:2:0, scaled decoding picks the fast factors, bad bytes give None, odd-sized canvases stitch."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import pytest

from coordinator.wall import planes
from coordinator.wall.cache import CameraKey, TileCache
from coordinator.wall.compositor import DecodeCache, Layout, PanelCompositor
from protocols.tile import Tile
from simulators.scene import SceneSpec, camera_index_for_colour, jpeg, probe_point, render


def _scene(i: int = 3, width: int = 640, height: int = 360) -> Any:
    return render(SceneSpec(f"cam{i:02d}", index=i, width=width, height=height), 1_800_000_000.0)


def _encode(img: Any, sampling: int) -> bytes:
    ok, buf = cv2.imencode(
        ".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90, cv2.IMWRITE_JPEG_SAMPLING_FACTOR, sampling]
    )
    assert ok
    return bytes(buf.tobytes())


def test_libturbojpeg_is_there_and_agrees_with_the_opencv_path() -> None:
    assert planes.turbo_available(), "libturbojpeg0 must be installed (Makefile APT_PACKAGES)"
    data = jpeg(_scene(), 85)
    fast, slow = planes.decode(data), planes.decode(data, turbo=False)
    assert fast is not None
    assert slow is not None
    for a, b in zip(fast, slow, strict=True):
        assert a.shape == b.shape
        assert np.abs(a.astype(int) - b.astype(int)).mean() < 2.0
    assert (fast.y.shape, fast.u.shape, fast.v.shape) == ((360, 640), (180, 320), (180, 320))


@pytest.mark.parametrize(
    "sampling",
    [
        cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444,
        cv2.IMWRITE_JPEG_SAMPLING_FACTOR_422,
        cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420,
    ],
)
def test_any_chroma_subsampling_comes_out_as_420_with_the_right_colour(sampling: int) -> None:
    img = _scene(5, 321, 181)  # odd sizes: chroma planes round up
    got = planes.decode(_encode(img, sampling))
    assert got is not None
    assert (got.y.shape, got.u.shape) == ((181, 321), (91, 161))
    back = planes.to_bgr(got)
    px, py = probe_point(321, 181)
    assert camera_index_for_colour(back[py - 2 : py + 3, px - 2 : px + 3].reshape(-1, 3).mean(axis=0)) == 5


def test_grey_jpeg_has_neutral_chroma() -> None:
    grey = cv2.cvtColor(_scene(), cv2.COLOR_BGR2GRAY)
    ok, buf = cv2.imencode(".jpg", grey)
    assert ok
    got = planes.decode(buf.tobytes())
    assert got is not None
    assert got.y.shape == (360, 640)
    assert int(got.u.min()) == int(got.u.max()) == planes.NEUTRAL == int(got.v.max())


@pytest.mark.parametrize(
    ("cell", "expected"),
    [((480, 270), (640, 360)), ((240, 135), (320, 180)), ((160, 90), (160, 90)), ((70, 40), (80, 45)),
     ((1280, 720), (640, 360))],
)  # fmt: skip
def test_scaled_decoding_uses_only_the_fast_factors(cell: tuple[int, int], expected: tuple[int, int]) -> None:
    got = planes.decode(jpeg(_scene()), cell)
    assert got is not None
    assert (got.width, got.height) == expected


@pytest.mark.parametrize(
    "data", [b"", b"not a jpeg", b"\xff\xd8\xff\xe0" + b"\x00" * 50, jpeg(_scene())[:300]]
)
def test_bad_bytes_give_none_or_a_picture_never_an_exception(data: bytes) -> None:
    good = jpeg(_scene(), 90)
    expected = planes.decode(good)
    assert expected is not None
    for turbo in (True, False):
        got = planes.decode(data, turbo=turbo)
        assert got is None or got.y.ndim == 2
        # and the next good tile decodes exactly as before (libturbojpeg 2.1 needs a fresh decompressor)
        after = planes.decode(good, turbo=turbo)
        assert after is not None
        if turbo:
            assert all(np.array_equal(a, b) for a, b in zip(after, expected, strict=True))


def test_odd_sized_canvas_cut_into_panels_equals_the_whole() -> None:
    # 1001×563 cut 2×3: panel and cell edges fall on odd pixels, so chroma is placed on the canvas's grid
    cams: list[CameraKey] = [("a", f"c{i}") for i in range(9)]
    cache = TileCache(offline_after_s=1e9)
    for i, key in enumerate(cams):
        cache.store(key, Tile(ts_ms=0, width=640, height=360, seq=1, jpeg=jpeg(_scene(i), 90)))
    whole_layout = Layout.grid(3, 3, 1001, 563)
    whole = PanelCompositor(whole_layout, 0, 0, DecodeCache())
    whole.compose(cams, cache.get, lambda _k: True)
    cut = Layout.grid(3, 3, 1001, 563, panel_rows=2, panel_cols=3)
    decoder = DecodeCache()
    y = np.zeros((563, 1001), np.uint8)
    u = np.zeros(planes.chroma_size(1001, 563)[::-1], np.uint8)
    covered = np.zeros(u.shape, bool)
    for r in range(2):
        for c in range(3):
            panel = PanelCompositor(cut, r, c, decoder)
            panel.compose(cams, cache.get, lambda _k: True)
            x0, y0 = panel.rect.x0, panel.rect.y0
            y[y0 : y0 + panel.rect.height, x0 : x0 + panel.rect.width] = panel.planes.y
            # a panel's chroma sits on the canvas's chroma grid, starting at its origin halved
            ch, cw = panel.planes.u.shape
            u[y0 // 2 : y0 // 2 + ch, x0 // 2 : x0 // 2 + cw] = panel.planes.u
            covered[y0 // 2 : y0 // 2 + ch, x0 // 2 : x0 // 2 + cw] = True
            img: Any = cv2.imdecode(np.frombuffer(panel.jpeg(), np.uint8), cv2.IMREAD_COLOR)
            assert img.shape[:2] == (panel.rect.height, panel.rect.width)
    assert decoder.decoded == 9  # each tile decoded once for all six panels
    assert np.array_equal(y, whole.planes.y)
    # (the canvas's last chroma row and column fall half outside panels that start on odd pixels)
    assert covered[:-1, :-1].all()
    assert np.array_equal(u[covered], whole.planes.u[covered])
