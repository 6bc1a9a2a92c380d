"""Prometheus collector of the wall, registered on the coordinator's registry while the wall runs.

Labels: ``wall`` (wall id) and ``panel`` (``r_c``) only — at most 64 panels per wall.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from coordinator.wall.cache import TileCache
from coordinator.wall.demand import Demand
from coordinator.wall.panels import PanelService
from coordinator.wall.viewers import Hub


class WallCollector(Collector):
    def __init__(self, cache: TileCache, demand: Demand, hub: Hub, panels: PanelService) -> None:
        self._cache = cache
        self._demand = demand
        self._hub = hub
        self._panels = panels

    def describe(self) -> Iterator[Metric]:
        return iter(())

    def collect(self) -> Iterator[Metric]:
        hub, panels = self._hub.stats, self._panels.stats
        for name, doc, value in (
            (
                "hallmesh_wall_tiles_received",
                "Wall tiles received from agents and cached",
                self._cache.received,
            ),
            ("hallmesh_wall_tiles_rejected", "Wall tiles dropped as malformed", self._cache.rejected),
            ("hallmesh_wall_tiles_sent", "Tiles sent to browser walls", hub.sent),
            (
                "hallmesh_wall_tiles_dropped",
                "Tiles replaced by a newer one before a slow viewer could take them",
                hub.dropped,
            ),
            ("hallmesh_wall_composed_frames", "Splice-panel frames composed and encoded", panels.composed),
            ("hallmesh_wall_tiles_decoded", "Tiles decoded for splice panels", self._panels.decoder.decoded),
            ("hallmesh_wall_configs_sent", "Tile-rate configs sent to agents", self._demand.configs_sent),
        ):
            yield CounterMetricFamily(name, doc, value=value)
        yield GaugeMetricFamily("hallmesh_wall_viewers", "Browser walls connected", value=hub.viewers)
        yield GaugeMetricFamily(
            "hallmesh_wall_panels_watched", "Splice panels being streamed", value=self._panels.watched
        )
        rates = self._demand.rates()
        yield GaugeMetricFamily(
            "hallmesh_wall_cameras_demanded",
            "Cameras some viewer asks tiles of",
            value=sum(len(d) for d in rates.values()),
        )
        cpu = CounterMetricFamily(
            "hallmesh_wall_panel_cpu_seconds",
            "CPU time spent composing and encoding a splice panel",
            labels=["wall", "panel"],
        )
        for (wall, r, c), seconds in sorted(panels.cpu_s.items()):
            cpu.add_metric([str(wall), f"{r}_{c}"], seconds)
        yield cpu
