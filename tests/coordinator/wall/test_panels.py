"""A splice panel follows a tour on the clock (not on the 5-second wall reload) and demands only what it shows."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator
from typing import Any

import cv2
import numpy as np

from coordinator.wall.cache import CameraKey, TileCache
from coordinator.wall.compositor import Layout
from coordinator.wall.demand import Demand
from coordinator.wall.panels import PanelService, WallView
from protocols.messages import ConfigBody
from simulators.scene import camera_index_for_colour, probe_point
from tests.coordinator.wall.test_compositor import _tile

A: CameraKey = ("agent-0", "cam01")
B: CameraKey = ("agent-0", "cam02")


def _panel_camera(part: bytes) -> int:
    jpeg = part[part.index(b"\r\n\r\n") + 4 : -2]
    img: Any = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    px, py = probe_point(img.shape[1], img.shape[0])
    return camera_index_for_colour(img[py - 2 : py + 3, px - 2 : px + 3].reshape(-1, 3).mean(axis=0))


async def aclosing(stream: object) -> None:
    """End the panel stream as the server does when the client goes away (runs its cleanup)."""
    assert isinstance(stream, AsyncGenerator)
    await stream.aclose()


def test_rotation_follows_the_clock() -> None:
    view = WallView(Layout.grid(1, 1, 320, 180), (A,), rotation=((A,), (B,)), dwell_s=10.0)
    assert view.cameras_at(5.0) == (A,)
    assert view.cameras_at(15.0) == (B,)
    assert view.cameras_at(25.0) == (A,)
    assert WallView(Layout.grid(1, 1, 320, 180), (A,)).cameras_at(15.0) == (A,)


def test_panel_moves_with_the_tour_between_wall_reloads() -> None:
    dwell = 0.6
    cache = TileCache(offline_after_s=1e9)
    cache.store(A, _tile(1))
    cache.store(B, _tile(2))
    loads: list[float] = []

    def load_view(_wall_id: int) -> WallView:
        loads.append(time.monotonic())
        return WallView(Layout.grid(1, 1, 320, 180), (A,), rotation=((A,), (B,)), dwell_s=dwell)

    sent: list[tuple[str, ConfigBody]] = []

    def send(agent: str, body: ConfigBody) -> bool:
        sent.append((agent, body))
        return True

    demand = Demand(send, debounce_s=0.0)
    service = PanelService(cache, demand, load_view, fps=10.0)

    async def watch() -> list[tuple[float, int]]:
        seen: list[tuple[float, int]] = []
        stream = service.stream((1, 0, 0))
        async for part in stream:
            seen.append((time.time(), _panel_camera(part)))
            if seen[-1][1] != seen[0][1]:
                break
        await aclosing(stream)
        return seen

    seen = asyncio.run(asyncio.wait_for(watch(), 10))
    assert len(loads) == 1  # the switch came from the clock, not from reloading the wall
    first, switched = seen[0][1], seen[-1]
    assert first in (1, 2)
    assert switched[1] == 3 - first
    # it switched within a frame or two of the dwell boundary
    boundary = (int(switched[0] // dwell)) * dwell
    assert switched[0] - boundary < 0.35
    assert service.watched == 0
