"""The wall's parts wired to one running coordinator: cache ← ingest, demand → MQTT, hub, panels, metrics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from types import FrameType
from typing import Any

from sqlmodel import Session, col, select

from coordinator.runtime import Coordinator
from coordinator.wall import store
from coordinator.wall.cache import CameraKey, TileCache, key_text
from coordinator.wall.demand import Demand
from coordinator.wall.metrics import WallCollector
from coordinator.wall.panels import PanelService, WallView
from coordinator.wall.viewers import Hub
from protocols import topics
from protocols.messages import ConfigBody
from protocols.topics import Channel
from workflow.org import Hall, Window

log = logging.getLogger(__name__)

PTZ_ACTIONS = frozenset({"ptz_move", "ptz_stop"})
CAMERA_KINDS = frozenset({"onvif", "camera"})
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class WallService:
    def __init__(self, coordinator: Coordinator) -> None:
        s = coordinator.settings
        self.coordinator = coordinator
        self.cache = TileCache(coordinator.live, s.wall_offline_after_s)
        self.demand = Demand(self._send_config, coordinator.live, s.wall_demand_debounce_s)
        self.hub = Hub(self.cache, self.demand, self.camera_info, s.wall_fps, s.wall_enlarged_fps)
        self.panels = PanelService(self.cache, self.demand, self.load_view, s.wall_panel_fps, s.wall_fps)
        self.cache.add_listener(self.hub.on_tile)
        self._collector = WallCollector(self.cache, self.demand, self.hub, self.panels)
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self.hub.bind(asyncio.get_running_loop())
        self._tasks = [
            asyncio.create_task(self.demand.run(), name="wall-demand"),
            asyncio.create_task(self.hub.run(), name="wall-status"),
        ]
        if self.coordinator.ingest is not None:
            self.coordinator.ingest.receiver.on_tile = self.cache.put
        self.coordinator.metrics.registry.register(self._collector)
        self._end_streams_on_stop_signals()

    def _end_streams_on_stop_signals(self) -> None:
        """uvicorn waits for open responses to finish before it shuts down, and a splice panel's MJPEG stream
        never finishes: chain a handler before the server's own (uvicorn restores its originals on exit) that
        ends the panel streams. WebSockets need nothing: uvicorn closes them itself."""
        if threading.current_thread() is not threading.main_thread():
            return  # an app under test in a thread: no signals there
        loop = asyncio.get_running_loop()
        for sig in STOP_SIGNALS:
            previous = signal.getsignal(sig)
            if not callable(previous):
                continue

            def on_stop(signum: int, frame: FrameType | None, previous: Any = previous) -> None:
                with contextlib.suppress(RuntimeError):  # the loop is already closed
                    loop.call_soon_threadsafe(lambda: loop.create_task(self.panels.shutdown()))
                previous(signum, frame)

            signal.signal(sig, on_stop)

    async def stop(self) -> None:
        await self.panels.shutdown()
        if self.coordinator.ingest is not None:
            self.coordinator.ingest.receiver.on_tile = None
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.demand.clear_all()  # agents stop sending tiles nobody will see
        with contextlib.suppress(KeyError):
            self.coordinator.metrics.registry.unregister(self._collector)

    def _send_config(self, agent_id: str, body: ConfigBody) -> bool:
        ingest = self.coordinator.ingest
        # Retained (DESIGN §4): an agent that reconnects finds the current demand without asking.
        return ingest is not None and ingest.send(Channel.CONFIG, topics.config(agent_id), body, retain=True)

    # -- lookups (worker threads) --------------------------------------------------------------------------

    def camera_info(self, cameras: list[tuple[CameraKey, str]]) -> list[dict[str, Any]]:
        """Name, service point and PTZ ability of each camera, for the overlays."""
        points = self.service_points({agent for (agent, _d), _l in cameras})
        out = []
        for (agent, device), label in cameras:
            live = self.coordinator.live.get(agent)
            dev = live.devices.get(device) if live is not None else None
            ptz = dev is not None and (set(dev.commands) >= PTZ_ACTIONS or "ptz" in dev.capabilities)
            out.append({"name": label or device, "service_point": points.get(agent, agent), "ptz": ptz})
        return out

    def service_points(self, agents: set[str]) -> dict[str, str]:
        """agent → "hall window" of the window the agent is bound to (organisation tables)."""
        if not agents:
            return {}
        with Session(self.coordinator.engine) as session:
            query = (
                select(Window, Hall)
                .join(Hall, col(Hall.id) == col(Window.hall_id))
                .where(col(Window.agent_id).in_(agents))
            )
            return {w.agent_id: f"{h.name} {w.name}" for w, h in session.exec(query).all() if w.agent_id}

    def cameras(self) -> list[dict[str, Any]]:
        """Every camera the coordinator knows (camera devices of the registry, and anything sending tiles)."""
        keys: set[CameraKey] = set(self.cache.keys())
        for agent in self.coordinator.live.snapshot():
            for dev in agent.devices.values():
                if dev.kind in CAMERA_KINDS or set(dev.commands) >= PTZ_ACTIONS or "tile" in dev.capabilities:
                    keys.add((agent.id, dev.device_id))
        ordered = sorted(keys)
        infos = self.camera_info([(k, "") for k in ordered])
        return [
            {"id": key_text(k), "agent": k[0], "device": k[1], "status": self.cache.status(k), **info}
            for k, info in zip(ordered, infos, strict=True)
        ]

    def load_view(self, wall_id: int) -> WallView:
        with Session(self.coordinator.engine) as session:
            return store.wall_view(session, wall_id)
