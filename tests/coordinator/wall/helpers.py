"""Shared pieces of the wall tests: cameras of the hand-driven agent, its received configs, scene tiles."""

from __future__ import annotations

import threading
from typing import Any

import paho.mqtt.client as mqtt

from protocols import envelope, topics
from protocols.messages import ConfigBody, DeviceInfo
from protocols.tile import encode_tile
from simulators.scene import SceneSpec, jpeg, render
from tests.coordinator.agent_sim import AgentSim
from tests.support import wait_until

CAMERAS = tuple(
    DeviceInfo(id=f"cam{i}", kind="onvif", model="sim", commands=["ptz_move", "ptz_stop"] if i == 1 else [])
    for i in range(1, 5)
)


class Configs:
    """The ``down/config`` messages an AgentSim receives."""

    def __init__(self, sim: AgentSim) -> None:
        self.got: list[dict[str, float]] = []
        self._lock = threading.Lock()
        sim.client.message_callback_add(topics.config(sim.id), self._on)

    def _on(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        _t, env = envelope.decode(msg.topic, msg.payload)
        assert isinstance(env.body, ConfigBody)
        with self._lock:
            self.got.append(dict(env.body.tile_rates))

    def last(self) -> dict[str, float] | None:
        with self._lock:
            return self.got[-1] if self.got else None

    def wait(self, expected: dict[str, float]) -> None:
        wait_until(lambda: self.last() == expected, 10, what=f"tile rates {expected}")


def tile(i: int, ts: float, seq: int = 1) -> bytes:
    return encode_tile(jpeg(render(SceneSpec(f"cam{i}", index=i), ts)), ts=ts, width=640, height=360, seq=seq)
