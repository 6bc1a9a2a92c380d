"""The viewer hub with a stand-in WebSocket: a slow viewer gets the newest tile per camera, never a backlog."""

from __future__ import annotations

import asyncio
import json
import struct
from collections.abc import Callable
from typing import Any

from starlette.websockets import WebSocketDisconnect

from coordinator.wall.cache import CameraKey, TileCache
from coordinator.wall.demand import Demand
from coordinator.wall.viewers import Hub
from protocols.messages import ConfigBody
from tests.coordinator.wall.test_compositor import _tile


class SlowSocket:
    """Sends block until ``gate`` opens, like a browser that stopped reading."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[str | None] = asyncio.Queue()
        self.texts: list[dict[str, Any]] = []
        self.frames: list[tuple[int, int]] = []
        self.gate = asyncio.Event()
        self.blocked = asyncio.Event()

    async def receive_text(self) -> str:
        msg = await self.inbox.get()
        if msg is None:
            raise WebSocketDisconnect(1000)
        return msg

    async def send_text(self, text: str) -> None:
        self.texts.append(json.loads(text))

    async def send_bytes(self, data: bytes) -> None:
        self.blocked.set()
        await self.gate.wait()
        self.frames.append(struct.unpack(">HQ", data[:10]))


async def until(cond: Callable[[], bool]) -> None:
    for _ in range(500):
        if cond():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in 5 s")


def _info(cams: list[tuple[CameraKey, str]]) -> list[dict[str, Any]]:
    return [{"name": label or key[1], "service_point": key[0], "ptz": False} for key, label in cams]


def test_slow_viewer_gets_latest_tile_per_camera() -> None:
    configs: list[tuple[str, ConfigBody]] = []

    async def main() -> Hub:
        cache = TileCache(offline_after_s=60)

        def send(agent: str, body: ConfigBody) -> bool:
            configs.append((agent, body))
            return True

        demand = Demand(send)
        hub = Hub(cache, demand, _info)
        hub.bind(asyncio.get_running_loop())
        cache.add_listener(hub.on_tile)
        ws = SlowSocket()
        serving = asyncio.create_task(hub.serve(ws))  # type: ignore[arg-type]
        await ws.inbox.put(json.dumps({"type": "subscribe", "cameras": ["a/c1", "a/c2"]}))
        await until(lambda: bool(ws.texts))
        assert ws.texts[0]["type"] == "cameras"
        assert demand.rates() == {"a": {"c1": 1.0, "c2": 1.0}}
        cache.store(("a", "c1"), _tile(1, 1.0))
        await asyncio.wait_for(ws.blocked.wait(), 5)  # tile 1 of c1 is being sent; the viewer is stuck
        for n in range(2, 11):
            cache.store(("a", "c1"), _tile(1, float(n)))
            cache.store(("a", "c2"), _tile(2, float(n)))
            await asyncio.sleep(0)  # let the loop hand them to the viewer one by one
        assert hub.stats.dropped == 16  # 8 replaced tiles of each camera
        ws.gate.set()
        await until(lambda: len(ws.frames) >= 3)
        await ws.inbox.put(None)
        await serving
        assert sorted(ws.frames) == [(0, 1000), (0, 10000), (1, 10000)]
        assert demand.rates() == {}
        return hub

    hub = asyncio.run(main())
    assert hub.stats.viewers == 0
