"""The latest tile of every camera, as it arrives from ingest (MQTT network thread).

:meth:`TileCache.put` is the ingest receiver's ``on_tile``: it never raises (a bad payload is counted and
dropped), stores the tile with its receive time, and tells the listeners which camera changed. A camera is
**online** when its last tile is younger than ``offline_after_s`` and its agent is online (presence in the
live state); otherwise it is **offline**.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

from coordinator.state import LiveState
from protocols.tile import Tile, TileError, decode_tile
from protocols.topics import Topic

log = logging.getLogger(__name__)

CameraKey = tuple[str, str]
"""(agent id, device id)"""
Status = Literal["online", "offline"]
ONLINE: Final[Status] = "online"
OFFLINE: Final[Status] = "offline"


def parse_key(text: str) -> CameraKey:
    """``"agent/device"`` → (agent, device); raise ValueError otherwise."""
    agent, sep, device = text.partition("/")
    if not sep or not agent or not device or "/" in device:
        raise ValueError(f"camera {text!r} is not 'agent/device'")
    return agent, device


def key_text(key: CameraKey) -> str:
    return f"{key[0]}/{key[1]}"


@dataclass(frozen=True, slots=True)
class CachedTile:
    key: CameraKey
    tile: Tile
    received_at: float
    """Unix seconds when the coordinator received it"""
    version: int
    """increases with every tile stored in this cache (any camera): tells 'changed' cheaply"""


Listener = Callable[[CameraKey], None]


class TileCache:
    def __init__(
        self,
        live: LiveState | None = None,
        offline_after_s: float = 3.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._live = live
        self.offline_after_s = offline_after_s
        self._clock = clock
        self._lock = threading.Lock()
        self._tiles: dict[CameraKey, CachedTile] = {}
        self._version = 0
        self._listeners: list[Listener] = []
        self.received = 0
        self.rejected = 0

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def put(self, topic: Topic, payload: bytes) -> None:
        """Store a tile from ingest; never raises."""
        if topic.device_id is None:
            return
        try:
            tile = decode_tile(payload)
        except TileError as err:
            self.rejected += 1
            if self.rejected == 1 or self.rejected % 1000 == 0:
                log.warning("bad tile from %s/%s: %s", topic.agent_id, topic.device_id, err)
            return
        self.store((topic.agent_id, topic.device_id), tile)

    def store(self, key: CameraKey, tile: Tile) -> CachedTile:
        with self._lock:
            self._version += 1
            cached = CachedTile(key, tile, self._clock(), self._version)
            self._tiles[key] = cached
            self.received += 1
        for listener in list(self._listeners):
            try:
                listener(key)
            except Exception:  # a listener's bug must not break ingest
                log.exception("wall tile listener failed")
        return cached

    def get(self, key: CameraKey) -> CachedTile | None:
        with self._lock:
            return self._tiles.get(key)

    def keys(self) -> list[CameraKey]:
        with self._lock:
            return list(self._tiles)

    def prune(self, older_than_s: float) -> int:
        """Forget tiles received more than ``older_than_s`` ago (cameras nobody watches any more); return how many."""
        cutoff = self._clock() - older_than_s
        with self._lock:
            old = [k for k, t in self._tiles.items() if t.received_at < cutoff]
            for key in old:
                del self._tiles[key]
        return len(old)

    def agent_online(self, agent_id: str) -> bool:
        if self._live is None:
            return True
        agent = self._live.get(agent_id)
        return agent is not None and agent.online

    def status(self, key: CameraKey, now: float | None = None) -> Status:
        cached = self.get(key)
        if cached is None or not self.agent_online(key[0]):
            return OFFLINE
        now = self._clock() if now is None else now
        return ONLINE if now - cached.received_at <= self.offline_after_s else OFFLINE
