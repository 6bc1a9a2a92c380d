"""``/metrics`` families of the blob store and of filing captures into cases."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from coordinator.cases.filing import FILING_OUTCOMES, filing_counts


class BlobCollector(Collector):
    def __init__(self, outcomes: Counter[tuple[str, str]]) -> None:
        self._outcomes = outcomes

    def describe(self) -> Iterator[Metric]:
        return iter(())

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "hallmesh_blob_requests",
            "Blob store requests by operation and outcome (stored, exists, served, or the refusal reason)",
            labels=["op", "outcome"],
        )
        for (op, outcome), n in sorted(self._outcomes.items()):
            requests.add_metric([op, outcome], n)
        yield requests
        filed = CounterMetricFamily(
            "hallmesh_captures_filed",
            "Capture events filed as case materials: filed, unfiled (no open case), missing_blob, bad_event",
            labels=["outcome"],
        )
        for outcome in FILING_OUTCOMES:
            filed.add_metric([outcome], filing_counts[outcome])
        yield filed
