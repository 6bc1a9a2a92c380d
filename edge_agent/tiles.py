"""Wall tiles at the edge (DESIGN.md §8): sample cameras at the rate the coordinator demands, send JPEG tiles.

:class:`TilePublisher` owns one asyncio task per camera that somebody watches. Each tick it takes the
camera's newest decoded frame (:class:`~edge_agent.drivers.base.TileSource` ``latest_frame()``), skips it if
it was already sent, scales it to the tile size (INTER_LINEAR, letterboxed when the aspect differs), encodes
JPEG in a worker thread (never on the loop) and publishes it with the :mod:`protocols.tile` header on
``…/up/tile/{device}`` at QoS 0. Rates come from the coordinator's ``down/config`` ``tile_rates``
(device → fps; absent or 0 = nothing is sent; clamped to :data:`MAX_FPS`). The camera is told the rate with
``want_frames(fps)`` so it may stop decoding while nobody watches. Each new frame is sent as soon as the
camera has it (checked every ≤ 50 ms), so a tile is about as old as the camera's frame, not up to a period.

How :class:`edge_agent.runtime.Agent` wires it (all on the agent's loop; the runtime imports this module only
when it has a camera, so agents without one never load OpenCV):

1. in ``Agent._main`` after the drivers are built::

       self.tiles = TilePublisher(
           lambda topic, payload: self.link.publish(topic, payload, qos=0), self.agent_id
       )
       for dev_id, driver in self.drivers.items():
           if isinstance(driver, TileSource):
               self.tiles.add_source(dev_id, driver)
       self.tiles.start()

   and before the drivers are closed at the end of ``_main``: ``await self.tiles.stop()``;
2. in ``Agent._on_config``: ``if self.tiles is not None: self.tiles.set_rates(cfg.tile_rates)`` (every config
   carries the complete demand, so an empty ``tile_rates`` stops all tiles);
3. declare ``self.tiles: TilePublisher | None = None`` in ``__init__``.

``link.publish`` returns False while disconnected; such tiles are simply not sent (QoS 0, the next one
replaces them).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import cv2
import numpy as np

from edge_agent.drivers.base import TileSource
from protocols import topics
from protocols.tile import encode_tile

log = logging.getLogger(__name__)

MAX_FPS: Final = 10.0
DEFAULT_SIZE: Final = (640, 360)
DEFAULT_QUALITY: Final = 70
POLL_MAX_S: Final = 0.05

Publish = Callable[[str, bytes], object]


def fit_tile(frame: Any, width: int, height: int) -> Any:
    """``frame`` (BGR or grey) scaled to ``width``×``height``, letterboxed with black if the aspect differs."""
    if frame.ndim == 2:
        frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    elif frame.shape[2] == 4:
        frame = cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    h, w = frame.shape[:2]
    if (w, h) == (width, height):
        return frame
    scale = min(width / w, height / h)
    sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
    if (sw, sh) == (width, height):
        return cv2.resize(frame, (width, height), interpolation=cv2.INTER_LINEAR)
    out = np.zeros((height, width, 3), np.uint8)
    x, y = (width - sw) // 2, (height - sh) // 2
    cv2.resize(frame, (sw, sh), dst=out[y : y + sh, x : x + sw], interpolation=cv2.INTER_LINEAR)
    return out


def encode_frame(frame: Any, ts: float, seq: int, width: int, height: int, quality: int) -> bytes:
    """A whole tile payload (header + JPEG) from a frame; runs in a worker thread."""
    img = fit_tile(frame, width, height)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return encode_tile(buf.tobytes(), ts=ts, width=width, height=height, seq=seq)


@dataclass
class TileStats:
    sent: int = 0
    skipped: int = 0
    """ticks without a new frame (none yet, or the one already sent)"""
    failed: int = 0


class TilePublisher:
    """Publishes wall tiles of the agent's cameras at the demanded rates; see the module docstring."""

    def __init__(
        self,
        publish: Publish,
        agent_id: str,
        *,
        size: tuple[int, int] = DEFAULT_SIZE,
        quality: int = DEFAULT_QUALITY,
        max_fps: float = MAX_FPS,
    ) -> None:
        self._publish = publish
        self.agent_id = agent_id
        self.width, self.height = size
        self.quality = quality
        self.max_fps = max_fps
        self._sources: dict[str, TileSource] = {}
        self._rates: dict[str, float] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._seq: dict[str, int] = {}
        self._started = False
        self.stats: dict[str, TileStats] = {}

    def add_source(self, device_id: str, source: TileSource) -> None:
        self._sources[device_id] = source
        self.stats.setdefault(device_id, TileStats())
        if self._started:
            self._apply(device_id)

    @property
    def rates(self) -> dict[str, float]:
        """The effective rate of each camera that is being sampled."""
        return {d: r for d, r in self._rates.items() if d in self._sources and r > 0}

    def set_rates(self, rates: Mapping[str, float]) -> None:
        """The complete demand: cameras absent or at 0 stop; others are clamped to ``max_fps``."""
        new: dict[str, float] = {}
        for device, fps in rates.items():
            if math.isfinite(fps) and fps > 0:
                new[device] = min(float(fps), self.max_fps)
        unknown = set(new) - set(self._sources)
        if unknown:
            log.debug("tile rates for devices that are no cameras here: %s", ", ".join(sorted(unknown)))
        old, self._rates = self._rates, new
        if self._started:
            for device in set(old) | set(new):
                if old.get(device) != new.get(device):
                    self._apply(device)

    def start(self) -> None:
        """Start sampling at the current rates (call on the agent's running loop)."""
        self._started = True
        for device in self._sources:
            self._apply(device)

    async def stop(self) -> None:
        self._started = False
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for source in self._sources.values():
            source.want_frames(0)

    # -- per camera ---------------------------------------------------------------------------------------

    def _apply(self, device: str) -> None:
        source = self._sources.get(device)
        if source is None:
            return
        fps = self._rates.get(device, 0.0)
        task = self._tasks.pop(device, None)
        if task is not None:
            task.cancel()
        source.want_frames(fps)
        if fps > 0:
            loop = asyncio.get_running_loop()
            self._tasks[device] = loop.create_task(self._run(device, source, fps), name=f"tiles-{device}")

    async def _run(self, device: str, source: TileSource, fps: float) -> None:
        """Send each new frame as soon as it appears, but not more often than ``fps`` on average.

        The camera decodes about ``fps`` frames a second on its own clock; sampling on an independent clock
        would make tiles up to a whole period old. So the newest frame is checked every ``poll`` seconds
        (a cheap tuple read) and sent once its turn has come: tiles are as fresh as the camera's frames.
        """
        topic = topics.tile(self.agent_id, device)
        stats = self.stats[device]
        period = 1.0 / fps
        poll = min(POLL_MAX_S, period / 4)
        last_ts: float | None = None
        next_at = time.monotonic()
        while True:
            frame = source.latest_frame()
            now = time.monotonic()
            if frame is None or frame[0] == last_ts:
                stats.skipped += 1
            elif now >= next_at:
                ts, image = frame
                last_ts = ts
                # keep the average rate; after a stall (no frames) start afresh instead of bursting
                next_at = max(next_at + period, now + period / 2)
                await self._send(topic, device, ts, image)
                continue
            await asyncio.sleep(min(poll, max(next_at - now, 0.0)) if frame is not None else poll)

    async def _send(self, topic: str, device: str, ts: float, image: Any) -> None:
        stats = self.stats[device]
        seq = self._seq.get(device, 0) + 1
        try:
            payload = await asyncio.to_thread(
                encode_frame, image, ts, seq, self.width, self.height, self.quality
            )
        except (ValueError, cv2.error) as err:
            stats.failed += 1
            if stats.failed == 1:
                log.warning("tiles of %s cannot be encoded: %s", device, err)
            return
        self._seq[device] = seq
        stats.sent += 1
        self._publish(topic, payload)
