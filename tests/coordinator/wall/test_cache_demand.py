"""Tile cache (status from tile age and presence) and demand (rates per agent, debounce, clear, resync)."""

from __future__ import annotations

import asyncio

from coordinator.state import AgentLive, LiveState
from coordinator.wall.cache import TileCache, parse_key
from coordinator.wall.demand import Demand
from protocols.messages import ConfigBody
from protocols.tile import encode_tile
from protocols.topics import parse
from tests.coordinator.wall.test_compositor import _tile

TOPIC = parse("hallmesh/v1/agent-1/up/tile/cam1")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_cache_status_follows_tile_age_and_presence() -> None:
    live, clock = LiveState(), Clock()
    live.publish([AgentLive("agent-1", online=True, boot=1)])
    cache = TileCache(live, offline_after_s=3, clock=clock)
    seen: list[tuple[str, str]] = []
    cache.add_listener(seen.append)
    key = ("agent-1", "cam1")
    assert cache.status(key) == "offline"  # no tile yet
    t = _tile(0)
    cache.put(TOPIC, encode_tile(t.jpeg, ts=t.ts, width=640, height=360, seq=1))
    assert seen == [key]
    assert cache.received == 1
    assert cache.status(key) == "online"
    clock.now += 3.5
    assert cache.status(key) == "offline"  # stale
    clock.now -= 3.5
    live.publish([AgentLive("agent-1", online=False, boot=1)])
    assert cache.status(key) == "offline"  # agent gone


def test_cache_counts_bad_tiles_and_never_raises() -> None:
    cache = TileCache()
    cache.put(TOPIC, b"garbage")
    assert (cache.received, cache.rejected) == (0, 1)


def test_parse_key() -> None:
    assert parse_key("a/b") == ("a", "b")
    for bad in ("a", "a/", "/b", "a/b/c"):
        try:
            parse_key(bad)
        except ValueError:
            continue
        raise AssertionError(bad)


def test_demand_takes_the_highest_rate_and_clears_when_the_last_viewer_leaves() -> None:
    sent: list[tuple[str, dict[str, float]]] = []

    def send(agent: str, body: ConfigBody) -> bool:
        sent.append((agent, dict(body.tile_rates)))
        return True

    d = Demand(send)
    w1, w2 = object(), object()
    d.set(w1, {("a1", "c1"): 1, ("a1", "c2"): 1, ("a2", "c1"): 1})
    d.set(w2, {("a1", "c1"): 10, ("a1", "c3"): 50})
    assert d.rates() == {"a1": {"c1": 10, "c2": 1, "c3": 10}, "a2": {"c1": 1}}
    d.flush()
    assert sorted(sent) == [("a1", {"c1": 10, "c2": 1, "c3": 10}), ("a2", {"c1": 1})]
    sent.clear()
    d.flush()
    assert sent == []  # nothing changed: nothing sent
    d.drop(w2)
    d.flush()
    assert sent == [("a1", {"c1": 1, "c2": 1})]
    sent.clear()
    d.set(w1, {})
    d.flush()
    assert sorted(sent) == [("a1", {}), ("a2", {})]
    assert d.watchers == 0


def test_demand_debounces_a_burst_and_resyncs_agents_that_come_back() -> None:
    sent: list[tuple[str, dict[str, float]]] = []
    live = LiveState()
    live.publish([AgentLive("a1", online=True, boot=1), AgentLive("a2", online=True, boot=4)])

    async def main() -> None:
        got = asyncio.Event()

        def send(agent: str, body: ConfigBody) -> bool:
            sent.append((agent, dict(body.tile_rates)))
            got.set()
            return True

        d = Demand(send, live, debounce_s=0.2)
        task = asyncio.create_task(d.run())
        watcher = object()
        for n in range(1, 9):  # a wall subscribing camera by camera
            d.set(watcher, {("a1", f"c{i}"): 1 for i in range(n)})
        await asyncio.wait_for(got.wait(), 5)
        assert sorted(sent) == [("a1", {f"c{i}": 1 for i in range(8)}), ("a2", {})]  # a2: cleared at start
        sent.clear()
        got.clear()
        live.publish([AgentLive("a1", online=True, boot=2)])  # a1 restarted: it lost its rates
        await asyncio.wait_for(got.wait(), 5)
        assert sent == [("a1", {f"c{i}": 1 for i in range(8)})]
        task.cancel()

    asyncio.run(main())


def test_cache_forgets_cameras_nobody_watched_for_long() -> None:
    clock = Clock()
    cache = TileCache(clock=clock)
    cache.store(("a", "old"), _tile(0))
    clock.now += 500
    cache.store(("a", "new"), _tile(1))
    clock.now += 200
    assert cache.prune(600) == 1
    assert cache.keys() == [("a", "new")]
