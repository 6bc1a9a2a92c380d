"""Splice-screen panels as MJPEG streams, composed only while somebody watches.

The first client of a panel starts its composer task: every ``1 / fps`` seconds it brings the panel's buffer
up to date in a worker thread (:class:`~coordinator.wall.compositor.PanelCompositor`: only changed cells are
redrawn, each tile decoded once) and, if anything changed, publishes a new JPEG to the panel's clients. The
panel's cameras are demanded at the wall rate while it is watched. The last client leaving stops it all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Final

from coordinator.wall.cache import CameraKey, TileCache
from coordinator.wall.compositor import DecodeCache, Layout, PanelCompositor
from coordinator.wall.demand import Demand

log = logging.getLogger(__name__)

BOUNDARY: Final = "hallmeshpanel"
RELOAD_EVERY_S: Final = 5.0


@dataclass(frozen=True)
class WallView:
    """What a wall shows right now: its layout and the camera of every cell."""

    layout: Layout
    cameras: tuple[CameraKey | None, ...]
    labels: tuple[str, ...] = ()
    rotation: tuple[tuple[CameraKey | None, ...], ...] = ()
    """A tour's groups in turn (empty: no tour); each shown for ``dwell_s``, chosen by the clock alone."""
    dwell_s: float | None = None

    def cameras_at(self, now: float) -> tuple[CameraKey | None, ...]:
        """The cameras shown at ``now``: a panel follows a tour on time without reloading the wall."""
        if not self.rotation:
            return self.cameras
        return self.rotation[tour_turn(now, self.dwell_s, len(self.rotation))]


def tour_turn(now: float, dwell_s: float | None, groups: int) -> int:
    """Which of a tour's ``groups`` shows at ``now``: decided by the clock alone, so every browser and panel of a
    wall agrees without talking (``dashboard/wall`` computes the same)."""
    if groups < 2 or not dwell_s:
        return 0
    return int(now // dwell_s) % groups


LoadView = Callable[[int], WallView]
"""wall id → its current view (runs in a worker thread: may query the DB; raises NotFoundError)."""

PanelId = tuple[int, int, int]


@dataclass
class PanelStats:
    composed: int = 0
    cpu_s: dict[PanelId, float] = field(default_factory=dict)


class _Panel:
    def __init__(self, pid: PanelId) -> None:
        self.pid = pid
        self.clients = 0
        self.jpeg = b""
        self.seq = 0
        self.changed = asyncio.Condition()
        self.task: asyncio.Task[None] | None = None


class PanelService:
    def __init__(
        self, cache: TileCache, demand: Demand, load_view: LoadView, fps: float = 5.0, tile_fps: float = 1.0
    ) -> None:
        self.cache = cache
        self.demand = demand
        self.load_view = load_view
        self.fps = fps
        self.tile_fps = tile_fps
        self.decoder = DecodeCache()
        self.stats = PanelStats()
        self._panels: dict[PanelId, _Panel] = {}
        self._showing: dict[PanelId, set[CameraKey]] = {}
        self._stopping = False

    @property
    def watched(self) -> int:
        return len(self._panels)

    async def check(self, pid: PanelId) -> WallView:
        """Load the wall and check the panel exists (raises NotFoundError / IndexError)."""
        view = await asyncio.to_thread(self.load_view, pid[0])
        view.layout.panel(pid[1], pid[2])
        return view

    async def stream(self, pid: PanelId) -> AsyncIterator[bytes]:
        """``multipart/x-mixed-replace`` parts of one panel until the client goes away."""
        panel = self._panels.get(pid)
        if panel is None:
            panel = self._panels[pid] = _Panel(pid)
            panel.task = asyncio.create_task(self._compose_loop(panel), name=f"wall-panel-{pid}")
        panel.clients += 1
        seen = 0
        try:
            while True:
                async with panel.changed:
                    last = seen
                    await panel.changed.wait_for(
                        lambda: panel.seq != last or self._stopping  # noqa: B023 (awaited right here)
                    )
                    if self._stopping:
                        return
                    seen, jpeg = panel.seq, panel.jpeg
                yield (
                    f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n".encode()
                    + jpeg
                    + b"\r\n"
                )
        finally:
            panel.clients -= 1
            if panel.clients == 0:
                self._panels.pop(pid, None)
                self._showing.pop(pid, None)
                self._forget_unshown()
                if panel.task is not None:
                    panel.task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await panel.task
                self.demand.drop(panel)

    def _forget_unshown(self) -> None:
        """Decoded images only of cameras some watched panel shows (a tour moves on, a panel closes)."""
        self.decoder.forget(set().union(*self._showing.values()))

    async def shutdown(self) -> None:
        """End every stream (the server is stopping: it waits for open responses before it can exit)."""
        self._stopping = True
        for panel in list(self._panels.values()):
            async with panel.changed:
                panel.changed.notify_all()

    async def _compose_loop(self, panel: _Panel) -> None:
        wall_id, r, c = panel.pid
        view: WallView | None = None
        compositor: PanelCompositor | None = None
        shown: tuple[CameraKey | None, ...] | None = None
        loaded_at = 0.0
        period = 1.0 / self.fps
        while True:
            now = time.monotonic()
            if view is None or now - loaded_at >= RELOAD_EVERY_S:
                fresh: WallView | None
                try:
                    fresh = await asyncio.to_thread(self.load_view, wall_id)
                except Exception:  # wall deleted or DB trouble: keep the last picture, try again later
                    log.warning("panel %s: cannot load wall %d", panel.pid, wall_id, exc_info=True)
                    fresh = view
                loaded_at = now
                if fresh is not None and (view is None or fresh.layout != view.layout):
                    compositor = PanelCompositor(fresh.layout, r, c, self.decoder)
                view = fresh
            if view is not None and compositor is not None:
                cameras = view.cameras_at(time.time())
                if cameras != shown:
                    shown = cameras
                    self._showing[panel.pid] = {k for k in cameras if k is not None}
                    self._forget_unshown()
                cells = view.layout.cells_of_panel(r, c)
                wants = {cam: self.tile_fps for i in cells if i < len(cameras) and (cam := cameras[i])}
                self.demand.set(panel, wants)
                jpeg = await asyncio.to_thread(self._compose, panel.pid, compositor, cameras)
                if jpeg is not None:
                    async with panel.changed:
                        panel.jpeg = jpeg
                        panel.seq += 1
                        panel.changed.notify_all()
            await asyncio.sleep(max(0.0, period - (time.monotonic() - now)))

    def _compose(
        self, pid: PanelId, compositor: PanelCompositor, cameras: tuple[CameraKey | None, ...]
    ) -> bytes | None:
        t0 = time.thread_time()
        now = time.time()
        changed = compositor.compose(
            cameras, self.cache.get, lambda key: self.cache.status(key, now) == "online"
        )
        jpeg = compositor.jpeg() if changed or compositor.frames == 0 else None
        self.stats.cpu_s[pid] = self.stats.cpu_s.get(pid, 0.0) + time.thread_time() - t0
        if jpeg is not None:
            self.stats.composed += 1
        return jpeg
