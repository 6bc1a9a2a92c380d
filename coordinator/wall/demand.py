"""Who watches which camera at which rate → each agent's ``down/config`` ``tile_rates``.

Every watcher (a browser wall's WebSocket, a splice panel being streamed) states its complete wish with
:meth:`Demand.set` (camera → fps) and withdraws with :meth:`Demand.drop`. A camera's rate is the highest any
watcher asks for. :meth:`Demand.run` (an asyncio task) publishes per agent only what changed, after
``debounce_s`` of quiet (a wall that subscribes 64 cameras one by one sends one config per agent), and an
empty ``tile_rates`` when the last viewer of an agent's cameras leaves.

Configs go out QoS 1 through the coordinator's MQTT link. Because that link does not retain, the demand is
sent again whenever an agent comes (back) online with a new boot — an agent that restarted starts with no
rates — and, once per agent, to every agent online when the coordinator starts, so rates left over from a
previous coordinator run are cleared.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from typing import Final

from coordinator.state import LiveState
from coordinator.wall.cache import CameraKey
from protocols.messages import ConfigBody

log = logging.getLogger(__name__)

MAX_FPS: Final = 10.0
RESYNC_EVERY_S: Final = 1.0

SendConfig = Callable[[str, ConfigBody], bool]
"""``send(agent_id, body)`` → False if it could not be queued (link down): retried on the next tick."""


class Demand:
    def __init__(self, send: SendConfig, live: LiveState | None = None, debounce_s: float = 0.3) -> None:
        self._send = send
        self._live = live
        self.debounce_s = debounce_s
        self._wants: dict[object, dict[CameraKey, float]] = {}
        self._sent: dict[str, dict[str, float]] = {}
        self._sent_boot: dict[str, int] = {}
        self._changed = asyncio.Event()
        self.configs_sent = 0

    # -- watchers (event loop) ------------------------------------------------------------------------------

    def set(self, watcher: object, wants: Mapping[CameraKey, float]) -> None:
        """``watcher``'s complete wish, camera → fps (≤ 0 entries are ignored)."""
        clean = {k: min(float(v), MAX_FPS) for k, v in wants.items() if v > 0}
        if self._wants.get(watcher) != clean:
            if clean:
                self._wants[watcher] = clean
            else:
                self._wants.pop(watcher, None)
            self._changed.set()

    def drop(self, watcher: object) -> None:
        if self._wants.pop(watcher, None) is not None:
            self._changed.set()

    @property
    def watchers(self) -> int:
        return len(self._wants)

    def rates(self) -> dict[str, dict[str, float]]:
        """agent → device → fps: the highest rate any watcher asks for."""
        out: dict[str, dict[str, float]] = {}
        for wants in self._wants.values():
            for (agent, device), fps in wants.items():
                per = out.setdefault(agent, {})
                per[device] = max(per.get(device, 0.0), fps)
        return out

    # -- publishing ------------------------------------------------------------------------------------------

    def flush(self) -> None:
        """Send every agent whose rates differ from what it was last sent (or that came back online)."""
        rates = self.rates()
        for agent in sorted(set(rates) | set(self._sent)):
            want = rates.get(agent, {})
            boot = self._online_boot(agent)
            if want == self._sent.get(agent) and (boot is None or boot == self._sent_boot.get(agent)):
                continue
            if self._send(agent, ConfigBody(tile_rates=want)):
                self.configs_sent += 1
                log.debug("tile rates of %s: %s", agent, want)
                if want:
                    self._sent[agent] = want
                else:
                    self._sent.pop(agent, None)
                if boot is not None:
                    self._sent_boot[agent] = boot
        self._resync_presence(rates)

    def _online_boot(self, agent: str) -> int | None:
        if self._live is None:
            return None
        live = self._live.get(agent)
        return live.boot if live is not None and live.online else None

    def _resync_presence(self, rates: Mapping[str, Mapping[str, float]]) -> None:
        """Agents online with a boot we have not sent to: send them their (maybe empty) demand."""
        if self._live is None:
            return
        for live in self._live.snapshot():
            if not live.online or self._sent_boot.get(live.id) == live.boot:
                continue
            want = dict(rates.get(live.id, {}))
            if self._send(live.id, ConfigBody(tile_rates=want)):
                self.configs_sent += 1
                self._sent_boot[live.id] = live.boot
                if want:
                    self._sent[live.id] = want

    def clear_all(self) -> None:
        """Withdraw every demand and tell the agents that had some (on shutdown)."""
        self._wants.clear()
        for agent in list(self._sent):
            if self._send(agent, ConfigBody(tile_rates={})):
                self.configs_sent += 1
        self._sent.clear()

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), RESYNC_EVERY_S)
            if self._changed.is_set():
                await asyncio.sleep(self.debounce_s)  # let a burst of subscriptions settle
                self._changed.clear()
            self.flush()
