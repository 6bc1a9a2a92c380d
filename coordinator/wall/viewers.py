"""Browser walls: one WebSocket per viewer carrying all of its tiles, latest tile wins.

Protocol (JSON text frames from the browser)::

    {"type": "subscribe", "cameras": [{"id": "agent/device", "label": "…"}, …]}   # complete list; index = position
    {"type": "enlarge", "index": 3}          # that camera at the enlarged rate; {"index": null} to go back

From the server: ``{"type": "cameras", "cameras": [{index, id, name, service_point, ptz, status}, …]}`` after a
subscribe, ``{"type": "status", "index", "status", "ts"}`` when a camera goes online/offline, and binary
frames: ``uint16 camera index, uint64 capture time in ms`` (big-endian) + the JPEG.

Tiles reach the hub from the MQTT thread (:meth:`Hub.on_tile`); the event loop hands each to the viewers
watching that camera. A viewer holds at most one unsent tile per camera: a newer one replaces it (counted as
dropped), so a slow browser gets fewer frames, never old ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from starlette.websockets import WebSocket, WebSocketDisconnect

from coordinator.wall.cache import CachedTile, CameraKey, TileCache, key_text, parse_key
from coordinator.wall.demand import Demand

log = logging.getLogger(__name__)

FRAME_HEADER: Final = struct.Struct(">HQ")
STATUS_EVERY_S: Final = 0.5
MAX_CAMERAS: Final = 256
PRUNE_EVERY_S: Final = 60.0
PRUNE_AFTER_S: Final = 600.0
"""tiles older than this are dropped from the cache (a camera nobody has watched for 10 minutes)"""

CameraInfo = Callable[[list[tuple[CameraKey, str]]], list[dict[str, Any]]]
"""(camera, label) pairs → name, service point, ptz of each (runs in a worker thread: may query the DB)."""


@dataclass
class HubStats:
    sent: int = 0
    dropped: int = 0
    viewers: int = 0


@dataclass(eq=False)
class Viewer:
    ws: WebSocket
    cameras: list[CameraKey] = field(default_factory=list)
    enlarged: int | None = None
    pending: dict[int, CachedTile] = field(default_factory=dict)
    control: deque[str] = field(default_factory=deque)
    sent_version: dict[int, int] = field(default_factory=dict)
    statuses: dict[int, str] = field(default_factory=dict)
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    def offer(self, index: int, cached: CachedTile, stats: HubStats) -> None:
        if cached.version <= self.sent_version.get(index, 0):
            return
        if index in self.pending:
            stats.dropped += 1
        self.pending[index] = cached
        self.wake.set()

    def say(self, message: dict[str, Any]) -> None:
        self.control.append(json.dumps(message, ensure_ascii=False))
        self.wake.set()


class Hub:
    def __init__(
        self,
        cache: TileCache,
        demand: Demand,
        camera_info: CameraInfo,
        fps: float = 1.0,
        enlarged_fps: float = 10.0,
    ) -> None:
        self.cache = cache
        self.demand = demand
        self.camera_info = camera_info
        self.fps = fps
        self.enlarged_fps = enlarged_fps
        self.stats = HubStats()
        self._viewers: set[Viewer] = set()
        self._by_camera: dict[CameraKey, dict[Viewer, list[int]]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._dirty: set[CameraKey] = set()
        self._dirty_lock = threading.Lock()
        self._scheduled = False

    # -- tiles in (any thread) --------------------------------------------------------------------------------

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def on_tile(self, key: CameraKey) -> None:
        """A camera's tile changed (called by the cache, on the MQTT thread): hand it to the loop, coalesced."""
        loop = self._loop
        if loop is None or key not in self._by_camera:
            return
        with self._dirty_lock:
            self._dirty.add(key)
            if self._scheduled:
                return
            self._scheduled = True
        with contextlib.suppress(RuntimeError):  # loop closed while stopping
            loop.call_soon_threadsafe(self._deliver)

    def _deliver(self) -> None:
        with self._dirty_lock:
            dirty, self._dirty = self._dirty, set()
            self._scheduled = False
        for key in dirty:
            cached = self.cache.get(key)
            if cached is None:
                continue
            for viewer, indexes in self._by_camera.get(key, {}).items():
                for index in indexes:
                    viewer.offer(index, cached, self.stats)

    # -- one viewer (event loop) -------------------------------------------------------------------------------

    async def serve(self, ws: WebSocket) -> None:
        """Run one accepted WebSocket until it closes."""
        viewer = Viewer(ws)
        self._viewers.add(viewer)
        self.stats.viewers = len(self._viewers)
        sender = asyncio.create_task(self._send_loop(viewer), name="wall-viewer-send")
        try:
            while True:
                text = await ws.receive_text()
                await self._handle(viewer, text)
        except WebSocketDisconnect:
            pass
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender
            self._unsubscribe(viewer)
            self._viewers.discard(viewer)
            self.stats.viewers = len(self._viewers)
            self.demand.drop(viewer)

    async def _handle(self, viewer: Viewer, text: str) -> None:
        try:
            msg = json.loads(text)
            kind = msg["type"]
        except (ValueError, KeyError, TypeError):
            viewer.say({"type": "error", "detail": "expected a JSON object with a 'type'"})
            return
        if kind == "subscribe":
            await self._subscribe(viewer, msg.get("cameras"))
        elif kind == "enlarge":
            index = msg.get("index")
            viewer.enlarged = index if isinstance(index, int) and 0 <= index < len(viewer.cameras) else None
            self._update_demand(viewer)
        else:
            viewer.say({"type": "error", "detail": f"unknown message type {kind!r}"})

    async def _subscribe(self, viewer: Viewer, cameras: object) -> None:
        if not isinstance(cameras, list) or len(cameras) > MAX_CAMERAS:
            viewer.say({"type": "error", "detail": f"'cameras' must be a list of at most {MAX_CAMERAS}"})
            return
        wanted: list[tuple[CameraKey, str]] = []
        for item in cameras:
            try:
                if isinstance(item, str):
                    wanted.append((parse_key(item), ""))
                else:
                    wanted.append((parse_key(str(item["id"])), str(item.get("label", ""))[:64]))
            except (ValueError, KeyError, TypeError) as err:
                viewer.say({"type": "error", "detail": f"bad camera {item!r}: {err}"})
                return
        infos = await asyncio.to_thread(self.camera_info, wanted)
        self._unsubscribe(viewer)
        viewer.cameras = [key for key, _label in wanted]
        viewer.enlarged = None
        viewer.pending.clear()
        viewer.sent_version.clear()
        viewer.statuses = {i: self.cache.status(k) for i, k in enumerate(viewer.cameras)}
        for i, key in enumerate(viewer.cameras):
            self._by_camera.setdefault(key, {}).setdefault(viewer, []).append(i)
        listing = [
            {"index": i, "id": key_text(key), "status": viewer.statuses[i], **info}
            for i, (key, info) in enumerate(zip(viewer.cameras, infos, strict=True))
        ]
        viewer.say({"type": "cameras", "cameras": listing})
        for i, key in enumerate(viewer.cameras):  # what we have now, so the wall is not blank for a second
            cached = self.cache.get(key)
            if cached is not None:
                viewer.offer(i, cached, self.stats)
        self._update_demand(viewer)

    def _unsubscribe(self, viewer: Viewer) -> None:
        for key in set(viewer.cameras):
            holders = self._by_camera.get(key)
            if holders is not None:
                holders.pop(viewer, None)
                if not holders:
                    del self._by_camera[key]

    def _update_demand(self, viewer: Viewer) -> None:
        wants = {key: self.fps for key in viewer.cameras}
        if viewer.enlarged is not None:
            wants[viewer.cameras[viewer.enlarged]] = self.enlarged_fps
        self.demand.set(viewer, wants)

    async def _send_loop(self, viewer: Viewer) -> None:
        ws = viewer.ws
        while True:
            await viewer.wake.wait()
            viewer.wake.clear()
            while viewer.control:
                await ws.send_text(viewer.control.popleft())
            while viewer.pending:
                index = next(iter(viewer.pending))
                cached = viewer.pending.pop(index)
                viewer.sent_version[index] = cached.version
                header = FRAME_HEADER.pack(index, cached.tile.ts_ms)
                await ws.send_bytes(header + cached.tile.jpeg)
                self.stats.sent += 1
                while viewer.control:
                    await ws.send_text(viewer.control.popleft())

    # -- status of cameras (event loop task) ----------------------------------------------------------------

    def check_status(self, now: float | None = None) -> None:
        now = time.time() if now is None else now
        for viewer in list(self._viewers):
            for i, key in enumerate(viewer.cameras):
                status = self.cache.status(key, now)
                if viewer.statuses.get(i) != status:
                    viewer.statuses[i] = status
                    cached = self.cache.get(key)
                    ts = cached.tile.ts if cached is not None else None
                    viewer.say({"type": "status", "index": i, "status": status, "ts": ts})

    async def run(self) -> None:
        last_prune = time.monotonic()
        while True:
            await asyncio.sleep(STATUS_EVERY_S)
            self.check_status()
            if time.monotonic() - last_prune >= PRUNE_EVERY_S:
                last_prune = time.monotonic()
                self.cache.prune(PRUNE_AFTER_S)
