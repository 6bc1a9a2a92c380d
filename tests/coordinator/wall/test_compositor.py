"""Splice-panel composition: cells land where the layout says, each tile is decoded once, clicks map back."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import pytest

from coordinator.wall.cache import CachedTile, CameraKey, TileCache
from coordinator.wall.compositor import CellSpec, DecodeCache, Layout, PanelCompositor, Rect
from protocols.tile import Tile
from simulators.scene import SceneSpec, camera_index_for_colour, decode_timestamp, jpeg, probe_point, render

CAMS: list[CameraKey] = [(f"agent-{i // 4}", f"cam{i:02d}") for i in range(16)]


def _tile(i: int, ts: float = 1_800_000_000.0) -> Tile:
    data = jpeg(render(SceneSpec(f"cam{i:02d}", index=i), ts))
    return Tile(ts_ms=round(ts * 1000), width=640, height=360, seq=1, jpeg=data)


@pytest.fixture
def cache() -> TileCache:
    c = TileCache(offline_after_s=1e9)
    for i, key in enumerate(CAMS):
        c.store(key, _tile(i))
    return c


def test_4x4_panel_from_16_cameras_puts_each_colour_in_its_cell(cache: TileCache) -> None:
    layout = Layout.grid(4, 4, 1920, 1080)
    decoder = DecodeCache()
    panel = PanelCompositor(layout, 0, 0, decoder)
    assert panel.compose(CAMS, cache.get, lambda _k: True)
    img: Any = cv2.imdecode(np.frombuffer(panel.jpeg(), np.uint8), cv2.IMREAD_COLOR)
    assert img.shape == (1080, 1920, 3)
    for i, cell in enumerate(layout.cells):
        assert (cell.width, cell.height) == (480, 270)
        px, py = probe_point(cell.width, cell.height)
        patch = img[cell.y0 + py - 2 : cell.y0 + py + 3, cell.x0 + px - 2 : cell.x0 + px + 3]
        assert camera_index_for_colour(patch.reshape(-1, 3).mean(axis=0)) == i, f"cell {i}"
        stamp = decode_timestamp(np.ascontiguousarray(img[cell.y0 : cell.y1, cell.x0 : cell.x1]))
        assert stamp == pytest.approx(1_800_000_000.0, abs=0.002)
    assert decoder.decoded == 16
    # nothing changed: no redraw, no re-encode, no decode
    before = panel.frames
    assert not panel.compose(CAMS, cache.get, lambda _k: True)
    panel.jpeg()
    assert (panel.frames, decoder.decoded) == (before, 16)
    # one camera changes: exactly one more decode
    cache.store(CAMS[5], _tile(5, 1_800_000_001.0))
    assert panel.compose(CAMS, cache.get, lambda _k: True)
    assert decoder.decoded == 17


def test_offline_cell_is_dimmed(cache: TileCache) -> None:
    layout = Layout.grid(2, 2, 640, 360)
    panel = PanelCompositor(layout, 0, 0, DecodeCache())
    panel.compose(CAMS[:4], cache.get, lambda k: k != CAMS[3])
    img = panel.image()
    bright = img[10:80, 200:300].mean()
    dim = img[190:260, 520:620].mean()
    assert dim < bright * 0.6
    assert panel.compose(CAMS[:4], cache.get, lambda _k: True)  # back online: redrawn


def test_cell_spanning_panels_is_split_across_them(cache: TileCache) -> None:
    # 2×2 grid with the top row merged, on a canvas cut into 1×2 panels: cell 0 spans both panels
    layout = Layout.grid(2, 2, 1280, 360, [CellSpec(0, 0, 1, 2)], panel_rows=1, panel_cols=2)
    assert len(layout.cells) == 3
    decoder = DecodeCache()
    left, right = PanelCompositor(layout, 0, 0, decoder), PanelCompositor(layout, 0, 1, decoder)
    cams = [CAMS[0], CAMS[1], CAMS[2]]
    for p in (left, right):
        p.compose(cams, cache.get, lambda _k: True)
    assert decoder.decoded == 3  # camera 0 decoded once for both panels
    whole = np.hstack([left.image(), right.image()])
    decoded: Any = cv2.imdecode(np.frombuffer(_tile(0).jpeg, np.uint8), cv2.IMREAD_COLOR)
    expected = cv2.resize(decoded, (1280, 180))
    assert np.abs(whole[:180].astype(int) - expected.astype(int)).mean() < 1.0
    assert camera_index_for_colour(right.image()[300, 600]) == 2


def test_click_maps_back_to_the_cell() -> None:
    layout = Layout.grid(4, 4, 5760, 3240, panel_rows=2, panel_cols=2)
    assert layout.panel(1, 1) == Rect(2880, 1620, 5760, 3240)
    assert layout.cell_at(0, 0, 0, 0) == 0
    assert layout.cell_at(0, 0, 1439, 809) == 0
    assert layout.cell_at(0, 0, 1439, 810) == 4
    assert layout.cell_at(0, 0, 1440, 810) == 5
    assert layout.cell_at(1, 1, 2879, 1619) == 15
    assert layout.cell_at(0, 1, 0, 0) == 2
    assert layout.cell_at(0, 0, 2880, 0) is None
    with pytest.raises(IndexError):
        layout.panel(2, 0)


def test_cached_tile_key() -> None:
    cached = TileCache().store(("a", "b"), _tile(0))
    assert isinstance(cached, CachedTile)
    assert cached.key == ("a", "b")
    assert cached.version == 1
