"""The ops files in docs/ops: the alert rules are valid Prometheus rules (promtool) and name every alert ops
rely on; the Grafana dashboard parses and its PromQL names only metrics a running coordinator exports."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.coordinator.conftest import Harness, coordinator_settings, harness, start_coordinator  # noqa: F401

OPS = Path(__file__).resolve().parent.parent / "docs" / "ops"
RULES = OPS / "prometheus-rules.yml"
DASHBOARD = OPS / "grafana-dashboard.json"
ALERTS = {
    "HallmeshAgentDown",
    "HallmeshDeviceDown",
    "HallmeshPrinterSupplyLow",
    "HallmeshAgentCertificateExpiring",
    "HallmeshOutboxBacklog",
    "HallmeshIngestRejecting",
}
PROMQL_WORDS = {
    "sum", "count", "by", "without", "rate", "increase", "topk", "sort", "histogram_quantile", "time", "and",
    "or", "unless", "on", "ignoring", "max", "min", "avg",
}  # fmt: skip


def test_alert_rules_pass_promtool_and_name_each_alert() -> None:
    proc = subprocess.run(["promtool", "check", "rules", str(RULES)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS: 9 rules found" in proc.stdout
    rules = yaml.safe_load(RULES.read_text())
    names = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    assert names >= ALERTS, ALERTS - names
    supply = next(r for g in rules["groups"] for r in g["rules"] if r["alert"] == "HallmeshPrinterSupplyLow")
    assert 'hallmesh_device_reading{point=~"supply_.*_percent"}' in supply["expr"]


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (label matchers, ranges, grouping and strings removed)."""
    bare = re.sub(r'"[^"]*"', "", expr)
    bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\b(?:by|without|on|ignoring)\s*\([^)]*\)", " ", bare)
    tokens = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", bare))
    return tokens - PROMQL_WORDS


def exported(text: str) -> set[str]:
    out: set[str] = set()
    for family in text_string_to_metric_families(text):
        out.add(family.name)
        out.update({"counter": [f"{family.name}_total"],
                    "histogram": [f"{family.name}_{s}" for s in ("bucket", "sum", "count")]}.get(family.type, []))  # fmt: skip
        out.update(s.name for s in family.samples)
    return out


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_grafana_dashboard_uses_only_exported_metrics(harness: Harness) -> None:  # noqa: F811
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert len(exprs) >= 14
    have = exported(harness.client.get("/metrics").text)
    used = set().union(*(metric_names(e) for e in exprs))
    assert used <= have, f"not exported: {sorted(used - have)}"
    for needed in ("hallmesh_agent_up", "hallmesh_device_status", "hallmesh_device_reading",
                   "hallmesh_agent_certificate_expiry_timestamp_seconds", "hallmesh_agent_outbox_depth",
                   "hallmesh_ingest_rejected_total", "hallmesh_blob_requests_total",
                   "hallmesh_wall_tiles_received_total"):  # fmt: skip
        assert needed in used
