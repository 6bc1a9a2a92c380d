"""Splice-screen composition: a wall's cells on a big canvas, cut into R×C panels, each drawn on its own.

Geometry is integer and exact: cell and panel edges are ``i * size // n``, so neighbouring rectangles share
edges and the panels tile the canvas without gaps. A panel keeps its pixel buffer between frames and redraws
only the cells whose camera, tile or status changed: each tile is decoded once when it changes (shared
:class:`DecodeCache`), then resized straight into the panel buffer (``cv2.resize(..., dst=view)``); a cell
that crosses panel edges is resized once into a cached cell image and its slices copied. Unchanged panels
are not re-encoded: the last JPEG is served again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

import cv2
import numpy as np
import simplejpeg

from coordinator.wall.cache import CachedTile, CameraKey

OFFLINE_DIM: Final = 0.35
JPEG_QUALITY: Final = 80


class Rect(NamedTuple):
    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    def intersect(self, other: Rect) -> Rect | None:
        x0, y0 = max(self.x0, other.x0), max(self.y0, other.y0)
        x1, y1 = min(self.x1, other.x1), min(self.y1, other.y1)
        return Rect(x0, y0, x1, y1) if x0 < x1 and y0 < y1 else None

    def contains(self, x: int, y: int) -> bool:
        return self.x0 <= x < self.x1 and self.y0 <= y < self.y1


class CellSpec(NamedTuple):
    row: int
    col: int
    rowspan: int
    colspan: int


def grid_cells(rows: int, cols: int, spans: Sequence[CellSpec]) -> list[CellSpec]:
    """All cells of a rows×cols grid with merged spans, row-major by top-left corner."""
    owner: dict[tuple[int, int], CellSpec] = {}
    for s in spans:
        for r in range(s.row, s.row + s.rowspan):
            for c in range(s.col, s.col + s.colspan):
                owner[(r, c)] = s
    cells: list[CellSpec] = []
    for r in range(rows):
        for c in range(cols):
            span = owner.get((r, c))
            if span is None:
                cells.append(CellSpec(r, c, 1, 1))
            elif (span.row, span.col) == (r, c):
                cells.append(span)
    return cells


def cell_rects(rows: int, cols: int, cells: Sequence[CellSpec], width: int, height: int) -> list[Rect]:
    return [
        Rect(
            c.col * width // cols,
            c.row * height // rows,
            (c.col + c.colspan) * width // cols,
            (c.row + c.rowspan) * height // rows,
        )
        for c in cells
    ]


def panel_rect(r: int, c: int, panel_rows: int, panel_cols: int, width: int, height: int) -> Rect:
    return Rect(
        c * width // panel_cols,
        r * height // panel_rows,
        (c + 1) * width // panel_cols,
        (r + 1) * height // panel_rows,
    )


@dataclass(frozen=True)
class Layout:
    """Where the cells of a wall are on its canvas, and how the canvas is cut into panels."""

    width: int
    height: int
    cells: tuple[Rect, ...]
    panel_rows: int
    panel_cols: int

    @classmethod
    def grid(
        cls,
        rows: int,
        cols: int,
        width: int,
        height: int,
        spans: Sequence[CellSpec] = (),
        panel_rows: int = 1,
        panel_cols: int = 1,
    ) -> Layout:
        cells = grid_cells(rows, cols, spans)
        return cls(width, height, tuple(cell_rects(rows, cols, cells, width, height)), panel_rows, panel_cols)

    def panel(self, r: int, c: int) -> Rect:
        if not (0 <= r < self.panel_rows and 0 <= c < self.panel_cols):
            raise IndexError(f"no panel {r},{c} in a {self.panel_rows}×{self.panel_cols} split")
        return panel_rect(r, c, self.panel_rows, self.panel_cols, self.width, self.height)

    def cells_of_panel(self, r: int, c: int) -> list[int]:
        p = self.panel(r, c)
        return [i for i, cell in enumerate(self.cells) if cell.intersect(p) is not None]

    def cell_at(self, r: int, c: int, x: int, y: int) -> int | None:
        """Index of the cell under pixel (x, y) of panel (r, c), or None (outside the panel)."""
        p = self.panel(r, c)
        cx, cy = p.x0 + x, p.y0 + y
        if not p.contains(cx, cy):
            return None
        for i, cell in enumerate(self.cells):
            if cell.contains(cx, cy):
                return i
        return None


class DecodeCache:
    """The decoded image of each camera's current tile: decoded once per tile, shared by all panels.

    Tiles are decoded with libjpeg-turbo's DCT scaling (``simplejpeg``): at the smallest of the scales 1/8 … 8/8
    that still covers the cell, so a 640×360 tile for a 480×270 cell (a 4×4 grid on 1080p) comes out of the
    decoder at exactly 480×270 — less decoding work and no resize at all. A cell larger than what is cached
    decodes the tile again, larger.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._images: dict[CameraKey, tuple[int, Any]] = {}
        self.decoded = 0

    def image(self, cached: CachedTile, size: tuple[int, int] | None = None) -> Any | None:
        """The tile as a BGR image at least ``size`` (width, height) where the tile allows, else full size."""
        with self._lock:
            found = self._images.get(cached.key)
            if found is not None and found[0] == cached.version and _covers(found[1], size, cached):
                return found[1]
            img = _decode(cached.tile.jpeg, size)
            self.decoded += 1
            if img is None:
                self._images.pop(cached.key, None)
                return None
            self._images[cached.key] = (cached.version, img)
            return img

    def forget(self, keep: set[CameraKey]) -> None:
        with self._lock:
            for key in [k for k in self._images if k not in keep]:
                del self._images[key]


def _covers(img: Any, size: tuple[int, int] | None, cached: CachedTile) -> bool:
    if size is None:
        return bool(img.shape[1] >= cached.tile.width and img.shape[0] >= cached.tile.height)
    return bool(
        img.shape[1] >= min(size[0], cached.tile.width) and img.shape[0] >= min(size[1], cached.tile.height)
    )


def _decode(jpeg: bytes, size: tuple[int, int] | None) -> Any | None:
    try:
        if size is None:
            return simplejpeg.decode_jpeg(jpeg, colorspace="BGR")
        return simplejpeg.decode_jpeg(jpeg, colorspace="BGR", min_width=size[0], min_height=size[1])
    except ValueError:  # not a JPEG this decoder takes: let OpenCV try, None if it cannot either
        img: Any = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        return img


GetTile = Callable[[CameraKey], CachedTile | None]
IsOnline = Callable[[CameraKey], bool]


class PanelCompositor:
    """One panel's buffer; :meth:`compose` redraws the cells that changed, :meth:`jpeg` encodes when needed."""

    def __init__(self, layout: Layout, r: int, c: int, decoder: DecodeCache) -> None:
        self.layout = layout
        self.rect = layout.panel(r, c)
        self.decoder = decoder
        self.buffer = np.zeros((self.rect.height, self.rect.width, 3), np.uint8)
        self._cells = layout.cells_of_panel(r, c)
        self._drawn: dict[int, tuple[object, ...]] = {}
        self._cell_images: dict[int, tuple[tuple[object, ...], Any]] = {}
        self._dirty = True
        self._jpeg: bytes = b""
        self.frames = 0

    def compose(self, cameras: Sequence[CameraKey | None], get: GetTile, online: IsOnline) -> bool:
        """Bring the buffer up to date; True if any pixel changed."""
        changed = False
        for i in self._cells:
            key = cameras[i] if i < len(cameras) else None
            cached = get(key) if key is not None else None
            is_online = key is not None and online(key)
            mark: tuple[object, ...] = (key, cached.version if cached else 0, is_online)
            if self._drawn.get(i) == mark:
                continue
            self._draw(i, cached, is_online, mark)
            self._drawn[i] = mark
            changed = True
        self._dirty |= changed
        return changed

    def _draw(self, i: int, cached: CachedTile | None, online: bool, mark: tuple[object, ...]) -> None:
        cell = self.layout.cells[i]
        part = cell.intersect(self.rect)
        assert part is not None
        view = self.buffer[
            part.y0 - self.rect.y0 : part.y1 - self.rect.y0, part.x0 - self.rect.x0 : part.x1 - self.rect.x0
        ]
        img = self.decoder.image(cached, (cell.width, cell.height)) if cached is not None else None
        if img is None:
            view[:] = (24, 24, 24)
            return
        if part == cell and img.shape[1] == cell.width and img.shape[0] == cell.height:
            view[:] = img  # the decoder's DCT scaling already made it the cell's size
            target = view
        elif part == cell:
            cv2.resize(img, (cell.width, cell.height), dst=view, interpolation=cv2.INTER_LINEAR)
            target = view
        else:  # the cell crosses panel edges: scale it whole once, copy this panel's slice
            prev = self._cell_images.get(i)
            if prev is None or prev[0] != mark:
                scaled = cv2.resize(img, (cell.width, cell.height), interpolation=cv2.INTER_LINEAR)
                self._cell_images[i] = (mark, scaled)
            else:
                scaled = prev[1]
            view[:] = scaled[part.y0 - cell.y0 : part.y1 - cell.y0, part.x0 - cell.x0 : part.x1 - cell.x0]
            target = view
        if not online:
            cv2.convertScaleAbs(target, dst=target, alpha=OFFLINE_DIM)
            if part == cell:
                cv2.putText(
                    target, "OFFLINE", (8, max(24, cell.height // 8)), cv2.FONT_HERSHEY_SIMPLEX,
                    max(0.6, cell.height / 300), (255, 255, 255), 2, cv2.LINE_AA,
                )  # fmt: skip

    def jpeg(self, quality: int = JPEG_QUALITY) -> bytes:
        """The panel as JPEG, encoded only if it changed since the last call."""
        if self._dirty or not self._jpeg:
            ok, buf = cv2.imencode(".jpg", self.buffer, [cv2.IMWRITE_JPEG_QUALITY, quality])
            if not ok:
                raise ValueError("JPEG encoding of a panel failed")
            self._jpeg = buf.tobytes()
            self._dirty = False
            self.frames += 1
        return self._jpeg
