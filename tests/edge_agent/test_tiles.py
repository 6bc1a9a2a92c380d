"""TilePublisher: samples cameras at the demanded rates, letterboxes to the tile size, never resends a frame."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
import pytest

from edge_agent.drivers.base import TileSource
from edge_agent.tiles import TilePublisher, fit_tile
from protocols import topics
from protocols.tile import decode_tile


class FakeCamera:
    def __init__(
        self, width: int = 640, height: int = 480, colour: tuple[int, int, int] = (0, 0, 255)
    ) -> None:
        self.frame: tuple[float, Any] | None = (time.time(), np.full((height, width, 3), colour, np.uint8))
        self.wanted: list[float] = []

    def want_frames(self, fps: float) -> None:
        self.wanted.append(fps)

    def latest_frame(self) -> tuple[float, Any] | None:
        return self.frame

    def new_frame(self) -> None:
        assert self.frame is not None
        self.frame = (self.frame[0] + 0.1, self.frame[1])


async def until(cond: Callable[[], bool], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def test_fake_camera_is_a_tile_source() -> None:
    assert isinstance(FakeCamera(), TileSource)


def test_publishes_only_what_is_demanded_and_never_the_same_frame_twice() -> None:
    sent: list[tuple[str, bytes]] = []
    cam, idle = FakeCamera(), FakeCamera()

    async def main() -> None:
        pub = TilePublisher(lambda t, p: sent.append((t, p)), "agent-1")
        pub.add_source("cam1", cam)
        pub.add_source("cam2", idle)
        pub.start()
        pub.set_rates({"cam1": 50.0, "cam9": 1.0})  # clamped; cam9 is no camera here
        await until(lambda: len(sent) == 1)
        await until(lambda: pub.stats["cam1"].skipped >= 3)  # ticks without a new frame: nothing sent
        assert len(sent) == 1
        cam.new_frame()
        await until(lambda: len(sent) == 2)
        pub.set_rates({})
        cam.new_frame()
        await asyncio.sleep(0.3)  # the stopped task would have ticked 3 times at 10 fps
        assert len(sent) == 2
        assert pub.rates == {}
        await pub.stop()

    asyncio.run(main())
    assert max(cam.wanted) == 10.0
    assert cam.wanted[-1] == 0
    assert set(idle.wanted) <= {0}
    assert {t for t, _ in sent} == {topics.tile("agent-1", "cam1")}
    tiles = [decode_tile(p) for _, p in sent]
    assert [t.seq for t in tiles] == [1, 2]
    assert tiles[1].ts_ms - tiles[0].ts_ms == 100


def test_tile_is_letterboxed_to_640x360() -> None:
    sent: list[bytes] = []
    cam = FakeCamera(640, 480, (0, 0, 255))

    async def main() -> None:
        pub = TilePublisher(lambda _t, p: sent.append(p), "agent-1")
        pub.add_source("cam1", cam)
        pub.set_rates({"cam1": 1})
        pub.start()
        await until(lambda: len(sent) == 1)
        await pub.stop()

    asyncio.run(main())
    tile = decode_tile(sent[0])
    img: Any = cv2.imdecode(np.frombuffer(tile.jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert img.shape == (360, 640, 3)
    assert (tile.width, tile.height) == (640, 360)
    assert img[180, 320, 2] > 200
    assert img[180, 320, 0] < 50
    assert img[180, 20].max() < 30  # black bars left and right (4:3 in 16:9: 480 px wide)


@pytest.mark.parametrize(("w", "h"), [(1920, 1080), (320, 240), (360, 640), (640, 360)])
def test_fit_tile_sizes(w: int, h: int) -> None:
    assert fit_tile(np.zeros((h, w, 3), np.uint8), 640, 360).shape == (360, 640, 3)
    assert fit_tile(np.zeros((h, w), np.uint8), 640, 360).shape == (360, 640, 3)
