"""``hallmesh_agent_certificate_expiry_timestamp_seconds{agent}``: when each active agent's newest valid
certificate expires, so ops can alert well ahead (docs/ops/prometheus-rules.yml: 14 days)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


class CertificateCollector(Collector):
    def __init__(self, expiries: Callable[[], dict[str, float]]) -> None:
        self._expiries = expiries

    def describe(self) -> Iterator[Metric]:
        return iter(())

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "hallmesh_agent_certificate_expiry_timestamp_seconds",
            "Unix time when the agent's newest valid certificate expires (enrolled agents)",
            labels=["agent"],
        )
        for agent, expiry in sorted(self._expiries().items()):
            family.add_metric([agent], expiry)
        yield family
