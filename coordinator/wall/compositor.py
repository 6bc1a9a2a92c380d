"""Splice-screen composition: a wall's cells on a big canvas, cut into R×C panels, each drawn on its own.

Geometry is integer and exact: cell and panel edges are ``i * size // n``, so neighbouring rectangles share
edges and the panels tile the canvas without gaps. A panel keeps its picture between frames as the YCbCr
4:2:0 planes JPEG itself uses (:mod:`coordinator.wall.planes`: no colour conversion on the way in or out)
and redraws only the cells whose camera, tile or status changed: each tile is decoded once when it changes
(shared :class:`DecodeCache`), then resized straight into the panel's planes (``cv2.resize(..., dst=view)``);
a cell that crosses panel edges is resized once into a cached cell image and its slices copied. Unchanged
panels are not re-encoded: the last JPEG is served again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

import cv2

from coordinator.wall import planes
from coordinator.wall.cache import CachedTile, CameraKey
from coordinator.wall.planes import Planes

# OpenCV's own thread pool busy-waits between jobs: for a cell-sized resize that spinning costs more CPU than
# the parallelism saves (bench.wall, 16 cells per 1080p frame: 8–11 ms of resizing with 2 threads, 4 ms with
# one). Panels are composed in parallel worker threads of their own instead.
cv2.setNumThreads(1)

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
    """The decoded planes of each camera's current tile: decoded once per tile, shared by all panels.

    Tiles are decoded to YCbCr 4:2:0 planes (:mod:`coordinator.wall.planes`), at 1/2, 1/4 or 1/8 scale when
    that still covers the cell (an 8×8 wall on 1080p has 240×135 cells: a 640×360 tile decodes at 320×180).
    A cell larger than what is cached decodes the tile again, larger.
    """

    def __init__(self, turbo: bool = True) -> None:
        self._lock = threading.Lock()
        self._images: dict[CameraKey, tuple[int, Planes]] = {}
        self._turbo = turbo
        self.decoded = 0

    def image(self, cached: CachedTile, size: tuple[int, int] | None = None) -> Planes | None:
        """The tile's planes at least ``size`` (width, height) where the tile allows, else full size."""
        with self._lock:
            found = self._images.get(cached.key)
            if found is not None and found[0] == cached.version and _covers(found[1], size, cached):
                return found[1]
            img = planes.decode(cached.tile.jpeg, size, turbo=self._turbo)
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


def _covers(img: Planes, size: tuple[int, int] | None, cached: CachedTile) -> bool:
    if size is None:
        return img.width >= cached.tile.width and img.height >= cached.tile.height
    return img.width >= min(size[0], cached.tile.width) and img.height >= min(size[1], cached.tile.height)


def on_plane(rect: Rect, step: int) -> Rect:
    """The samples of a plane subsampled by ``step`` that ``rect`` (in pixels) touches."""
    return Rect(rect.x0 // step, rect.y0 // step, -(-rect.x1 // step), -(-rect.y1 // step))


GetTile = Callable[[CameraKey], CachedTile | None]
IsOnline = Callable[[CameraKey], bool]


class PanelCompositor:
    """One panel's planes; :meth:`compose` redraws the cells that changed, :meth:`jpeg` encodes when needed.

    Cells are drawn plane by plane: Y at full resolution, Cb and Cr on the half-resolution grid of the whole
    canvas, so a cell's chroma lines up across panels however the canvas is cut.
    """

    def __init__(self, layout: Layout, r: int, c: int, decoder: DecodeCache) -> None:
        self.layout = layout
        self.rect = layout.panel(r, c)
        self.decoder = decoder
        self.planes = planes.blank(self.rect.width, self.rect.height)
        cw, ch = planes.chroma_size(self.rect.width, self.rect.height)
        ox, oy = self.rect.x0 // 2, self.rect.y0 // 2
        chroma = Rect(ox, oy, ox + cw, oy + ch)
        self._plane_rects = (self.rect, chroma, chroma)
        self._cells = layout.cells_of_panel(r, c)
        self._drawn: dict[int, tuple[object, ...]] = {}
        self._cell_images: dict[int, tuple[tuple[object, ...], Planes]] = {}
        self._dirty = True
        self._jpeg: bytes = b""
        self.frames = 0

    def image(self) -> Any:
        """The panel as a BGR image (tests, debugging)."""
        return planes.to_bgr(self.planes)

    def compose(self, cameras: Sequence[CameraKey | None], get: GetTile, online: IsOnline) -> bool:
        """Bring the planes up to date; True if any pixel changed."""
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
        img = self.decoder.image(cached, (cell.width, cell.height)) if cached is not None else None
        whole = True
        for n, (plane, panel_rect) in enumerate(zip(self.planes, self._plane_rects, strict=True)):
            step = 1 if n == 0 else 2
            on = on_plane(cell, step)
            part = on.intersect(panel_rect)
            if part is None:
                continue
            view = plane[part.y0 - panel_rect.y0 : part.y1 - panel_rect.y0,
                         part.x0 - panel_rect.x0 : part.x1 - panel_rect.x0]  # fmt: skip
            if img is None:
                view[:] = 24 if n == 0 else planes.NEUTRAL
                continue
            source = img[n]
            if part == on and source.shape == view.shape:
                view[:] = source
            elif part == on:
                cv2.resize(source, (on.width, on.height), dst=view, interpolation=cv2.INTER_LINEAR)
            else:  # the cell crosses panel edges: scale it whole once, copy this panel's slice
                whole = False
                scaled = self._scaled_cell(i, img, mark)[n]
                view[:] = scaled[part.y0 - on.y0 : part.y1 - on.y0, part.x0 - on.x0 : part.x1 - on.x0]
            if not online:
                if n == 0:
                    cv2.convertScaleAbs(view, dst=view, alpha=OFFLINE_DIM)
                else:  # chroma fades towards grey with the luma
                    cv2.convertScaleAbs(
                        view, dst=view, alpha=OFFLINE_DIM, beta=planes.NEUTRAL * (1 - OFFLINE_DIM)
                    )
        if img is not None and not online and whole:
            y = self.planes.y[cell.y0 - self.rect.y0 : cell.y1 - self.rect.y0,
                              cell.x0 - self.rect.x0 : cell.x1 - self.rect.x0]  # fmt: skip
            cv2.putText(
                y, "OFFLINE", (8, max(24, cell.height // 8)), cv2.FONT_HERSHEY_SIMPLEX,
                max(0.6, cell.height / 300), 255, 2, cv2.LINE_AA,
            )  # fmt: skip

    def _scaled_cell(self, i: int, img: Planes, mark: tuple[object, ...]) -> Planes:
        prev = self._cell_images.get(i)
        if prev is not None and prev[0] == mark:
            return prev[1]
        cell = self.layout.cells[i]
        scaled = Planes(
            *(
                cv2.resize(p, (r.width, r.height), interpolation=cv2.INTER_LINEAR)
                for p, r in zip(img, (on_plane(cell, 1), on_plane(cell, 2), on_plane(cell, 2)), strict=True)
            )
        )
        self._cell_images[i] = (mark, scaled)
        return scaled

    def jpeg(self, quality: int = JPEG_QUALITY) -> bytes:
        """The panel as JPEG, encoded only if it changed since the last call."""
        if self._dirty or not self._jpeg:
            self._jpeg = planes.encode(self.planes, quality)
            self._dirty = False
            self.frames += 1
        return self._jpeg
