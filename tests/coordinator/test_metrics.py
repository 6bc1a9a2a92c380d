"""/metrics: names and labels from the live state, lint-clean for promtool, one registry per app."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from prometheus_client.parser import text_string_to_metric_families

from coordinator.ingest.stats import IngestStats
from coordinator.metrics import MeshCollector, Metrics
from coordinator.state import AgentLive, DeviceLive, LiveState
from protocols.errors import DECODE_REASONS
from protocols.messages import DeviceInfo, Reading
from tests.coordinator.conftest import Harness
from tests.support import wait_until


def samples(text: str) -> dict[str, float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            out[f"{s.name}{{{labels}}}"] = s.value
    return out


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_metrics_follow_the_mesh_and_pass_promtool(harness: Harness) -> None:
    a = harness.agent("a1")
    a.online()
    a.birth()
    a.dev_state("scanner1", "up")
    a.dev_state("printer1", "down")
    a.telemetry([Reading(device="printer1", point="toner", value=42.5, unit="percent")], depth=3)
    a.send_raw("hallmesh/v1/a1/up/event", b"not json")
    a.wait_acked([a.event(1)])
    wait_until(lambda: harness.coordinator.live.get("a1").outbox_depth == 3, what="telemetry applied")  # type: ignore[union-attr]

    text = harness.client.get("/metrics").text
    got = samples(text)
    assert got['hallmesh_agent_up{agent="a1"}'] == 1
    assert got['hallmesh_agent_outbox_depth{agent="a1"}'] == 3
    assert got['hallmesh_agent_outbox_refused_total{agent="a1"}'] == 0
    assert got['hallmesh_agent_last_seen_timestamp_seconds{agent="a1"}'] > 1e9
    assert got['hallmesh_device_up{agent="a1",device="scanner1",kind="scanner"}'] == 1
    assert got['hallmesh_device_up{agent="a1",device="printer1",kind="printer"}'] == 0
    assert got['hallmesh_device_status{agent="a1",device="printer1",kind="printer",status="down"}'] == 1
    assert got['hallmesh_device_reading{agent="a1",device="printer1",point="toner",unit="percent"}'] == 42.5
    assert got['hallmesh_ingest_rejected_total{reason="not_json"}'] == 1
    for reason in DECODE_REASONS:
        assert f'hallmesh_ingest_rejected_total{{reason="{reason}"}}' in got
    assert got['hallmesh_ingest_messages_total{kind="event"}'] == 1
    assert got["hallmesh_ingest_events_committed_total{}"] == 1
    assert got["hallmesh_ingest_batch_duration_seconds_count{}"] >= 1
    assert got["hallmesh_mqtt_connected{}"] == 1

    promtool = shutil.which("promtool") or "/usr/bin/promtool"
    lint = subprocess.run(
        [promtool, "check", "metrics"], input=text.encode(), capture_output=True, check=False
    )
    assert (lint.returncode, lint.stdout + lint.stderr) == (0, b"")

    # A new birth without the printer: its series disappear.
    a.birth(devices=(DeviceInfo(id="scanner1", kind="scanner"),))
    wait_until(lambda: "printer1" not in harness.client.get("/metrics").text, what="printer series gone")
    a.kill()
    wait_until(
        lambda: re.search(r'^hallmesh_agent_up\{agent="a1"\} 0', harness.client.get("/metrics").text, re.M),
        what="agent down",
    )
    text = harness.client.get("/metrics").text
    assert 'hallmesh_device_status{agent="a1",device="scanner1",kind="scanner",status="unknown"} 1.0' in text


def test_each_app_has_its_own_registry() -> None:
    live = LiveState()
    live.publish([AgentLive("x1", online=True, devices={"d": DeviceLive("d", kind="k", status="up")})])
    one, two = Metrics(), Metrics()
    for m in (one, two):
        m.attach(live, IngestStats(), lambda: 0, lambda: True)
    assert one.registry is not two.registry
    assert [f.name for f in MeshCollector(live, IngestStats(), lambda: 0, lambda: False).collect()][:2] == [
        "hallmesh_agent_up",
        "hallmesh_agent_last_seen_timestamp_seconds",
    ]
