"""``/metrics``: a per-app registry with one collector reading the live state and the ingest counters.

Label sets follow the live state, so an agent or device that disappears from the registry disappears from the
exposition too. Label values are agent/device ids (bounded by the id pattern) and reasons from closed sets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from coordinator.ingest.stats import IngestStats
from coordinator.state import LiveState
from protocols.messages import DeviceStatus

DEVICE_STATUSES = tuple(s.value for s in DeviceStatus)
LIVE_DEVICE_STATUSES = frozenset({DeviceStatus.UP.value, DeviceStatus.DEGRADED.value})


class MeshCollector(Collector):
    def __init__(
        self,
        live: LiveState,
        stats: IngestStats,
        queue_depth: Callable[[], int],
        mqtt_connected: Callable[[], bool],
    ) -> None:
        self._live = live
        self._stats = stats
        self._queue_depth = queue_depth
        self._mqtt_connected = mqtt_connected

    def describe(self) -> Iterator[Metric]:
        return iter(())  # unchecked collector: families vary with the live state

    def collect(self) -> Iterator[Metric]:
        yield from self._agents()
        yield from self._ingest()

    def _agents(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "hallmesh_agent_up", "1 if the agent is connected (presence state)", labels=["agent"]
        )
        seen = GaugeMetricFamily(
            "hallmesh_agent_last_seen_timestamp_seconds",
            "Unix time of the last message from the agent",
            labels=["agent"],
        )
        depth = GaugeMetricFamily(
            "hallmesh_agent_outbox_depth",
            "Entries in the agent's outbox not yet acknowledged",
            labels=["agent"],
        )
        refused = CounterMetricFamily(
            "hallmesh_agent_outbox_refused",
            "Entries the agent's outbox refused because it was full",
            labels=["agent"],
        )
        boot = GaugeMetricFamily("hallmesh_agent_boot", "Current boot number of the agent", labels=["agent"])
        dev_up = GaugeMetricFamily(
            "hallmesh_device_up",
            "1 if the device is up or degraded and its agent is online",
            labels=["agent", "device", "kind"],
        )
        dev_status = GaugeMetricFamily(
            "hallmesh_device_status",
            "1 for the device's current status (unknown while its agent is offline)",
            labels=["agent", "device", "kind", "status"],
        )
        reading = GaugeMetricFamily(
            "hallmesh_device_reading",
            "Latest telemetry reading of a device health point",
            labels=["agent", "device", "point", "unit"],
        )
        for a in sorted(self._live.snapshot(), key=lambda a: a.id):
            up.add_metric([a.id], 1.0 if a.online else 0.0)
            if a.last_seen is not None:
                seen.add_metric([a.id], a.last_seen)
            depth.add_metric([a.id], a.outbox_depth)
            refused.add_metric([a.id], a.outbox_refused)
            boot.add_metric([a.id], a.boot)
            for d in sorted(a.devices.values(), key=lambda d: d.device_id):
                status = d.status if a.online else DeviceStatus.UNKNOWN.value
                dev_up.add_metric([a.id, d.device_id, d.kind], 1.0 if status in LIVE_DEVICE_STATUSES else 0.0)
                for s in DEVICE_STATUSES:
                    dev_status.add_metric([a.id, d.device_id, d.kind, s], 1.0 if s == status else 0.0)
            for (device, point), r in sorted(a.readings.items()):
                reading.add_metric([a.id, device, point, r.unit], r.value)
        yield from (up, seen, depth, refused, boot, dev_up, dev_status, reading)

    def _ingest(self) -> Iterator[Metric]:
        st = self._stats
        messages = CounterMetricFamily(
            "hallmesh_ingest_messages", "Messages received and decoded, by kind", labels=["kind"]
        )
        for kind, n in sorted(st.messages.items()):
            messages.add_metric([kind], n)
        rejected = CounterMetricFamily(
            "hallmesh_ingest_rejected", "Messages rejected by the decoder, by reason", labels=["reason"]
        )
        for reason, n in sorted(st.rejected.items()):
            rejected.add_metric([reason], n)
        yield messages
        yield rejected
        for name, doc, value in (
            (
                "hallmesh_ingest_duplicates",
                "Events and results already committed, acknowledged again",
                st.duplicates,
            ),
            (
                "hallmesh_ingest_out_of_order",
                "Events and results dropped unacknowledged: seq beyond hwm + 1",
                st.out_of_order,
            ),
            ("hallmesh_ingest_events_committed", "Events inserted into the database", st.events_inserted),
            ("hallmesh_ingest_results_committed", "Command results committed", st.results_inserted),
            (
                "hallmesh_ingest_batch_failures",
                "Batches dropped after failed transactions",
                st.batch_failures,
            ),
            ("hallmesh_stale_presence", "Presence states of an older boot, ignored", st.stale_presence),
            ("hallmesh_rebirth_requests", "Rebirth commands sent to agents", st.rebirth_requests),
        ):
            yield CounterMetricFamily(name, doc, value=value)
        yield GaugeMetricFamily(
            "hallmesh_ingest_queue_depth",
            "Decoded messages waiting for the writer",
            value=self._queue_depth(),
        )
        yield GaugeMetricFamily(
            "hallmesh_mqtt_connected",
            "1 if the coordinator's MQTT session is up",
            value=1.0 if self._mqtt_connected() else 0.0,
        )


class Metrics:
    """The app's registry: the mesh collector plus the batch latency histogram."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.batch_seconds = Histogram(
            "hallmesh_ingest_batch_duration_seconds",
            "Time to apply, commit and acknowledge one ingest batch",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=self.registry,
        )

    def attach(
        self,
        live: LiveState,
        stats: IngestStats,
        queue_depth: Callable[[], int],
        mqtt_connected: Callable[[], bool],
    ) -> None:
        self.registry.register(MeshCollector(live, stats, queue_depth, mqtt_connected))
