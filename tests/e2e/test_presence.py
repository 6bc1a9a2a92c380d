"""Agents come online in the registry with their devices, go offline when they die, come back on restart,
and a stale Will from an older boot never marks a newer session offline — real processes, real Mosquitto."""

from __future__ import annotations

import signal
import time
from functools import partial

from protocols import envelope, topics
from protocols.messages import StateBody
from protocols.topics import Channel
from tests.e2e.system import System
from tests.support import MqttProbe, wait_until

KEEPALIVE_S = 5


def _all_up(system: System, agent_id: str) -> bool:
    return _devices(system, agent_id) == {"sim-1": "up", "sim-2": "up", "sim-3": "up"}


def _devices(system: System, agent_id: str) -> dict[str, str]:
    status = system.agent_status(agent_id) or {}
    return {d["device_id"]: d["status"] for d in status.get("devices", [])}


def test_agents_come_online_with_their_devices(system: System) -> None:
    system.start_coordinator()
    for agent_id in ("county-a.w1", "county-b.w1"):
        system.add_agent(agent_id, devices=3, keepalive_s=KEEPALIVE_S)
        system.start_agent(agent_id)
    for agent_id in ("county-a.w1", "county-b.w1"):
        wait_until(partial(system.is_online, agent_id), timeout=20, what=f"{agent_id} online")
        wait_until(partial(_all_up, system, agent_id), timeout=20, what=f"{agent_id} devices up")
    listing = system.api("GET", "/api/v1/agents").json()
    assert {a["id"] for a in listing["data"]} >= {"county-a.w1", "county-b.w1"}


def test_sigkill_marks_offline_within_two_keepalives_and_restart_brings_it_back(system: System) -> None:
    system.start_coordinator()
    system.add_agent("county-a.w1", keepalive_s=KEEPALIVE_S)
    system.start_agent("county-a.w1")
    wait_until(lambda: system.is_online("county-a.w1"), timeout=20, what="online")
    boot = (system.agent_status("county-a.w1") or {})["boot"]

    killed_at = time.monotonic()
    system.signal_agent("county-a.w1", signal.SIGKILL)
    wait_until(
        lambda: not system.is_online("county-a.w1"), timeout=2 * KEEPALIVE_S, what="offline after SIGKILL"
    )
    assert time.monotonic() - killed_at < 2 * KEEPALIVE_S

    system.start_agent("county-a.w1")
    wait_until(lambda: system.is_online("county-a.w1"), timeout=20, what="online again")
    assert (system.agent_status("county-a.w1") or {})["boot"] > boot


def test_silent_loss_is_noticed_within_three_keepalives(system: System) -> None:
    """A frozen agent keeps its socket open: only the broker's keepalive check can notice it."""
    system.start_coordinator()
    system.add_agent("county-a.w1", keepalive_s=KEEPALIVE_S)
    system.start_agent("county-a.w1")
    wait_until(lambda: system.is_online("county-a.w1"), timeout=20, what="online")
    frozen_at = time.monotonic()
    system.signal_agent("county-a.w1", signal.SIGSTOP)
    wait_until(
        lambda: not system.is_online("county-a.w1"), timeout=3 * KEEPALIVE_S, what="offline after freeze"
    )
    # Mosquitto 2.0 drops a silent client after 1.5 × keepalive, noticed on its periodic check (seen: 9–10.5 s
    # for keepalive 5 s), so the bound here is looser than for a closed socket.
    assert time.monotonic() - frozen_at <= 3 * KEEPALIVE_S
    system.signal_agent("county-a.w1", signal.SIGCONT)
    wait_until(lambda: system.is_online("county-a.w1"), timeout=20, what="online after thaw")


def test_stale_will_of_an_older_boot_is_ignored(system: System) -> None:
    system.start_coordinator()
    system.add_agent("county-a.w1", keepalive_s=KEEPALIVE_S)
    system.start_agent("county-a.w1")
    wait_until(lambda: system.is_online("county-a.w1"), timeout=20, what="online")
    boot = int((system.agent_status("county-a.w1") or {})["boot"])

    # The Will of the previous boot arrives late (e.g. the broker noticed the old link only now).
    files = system.pki.files("county-a.w1")
    late = MqttProbe(system.broker.port, system.pki.ca_cert_path, files.cert, files.key, "late-will").start()
    assert late.connected.wait(5)
    will = envelope.make(
        Channel.STATE,
        "county-a.w1",
        boot - 1,
        0,
        StateBody(online=False, boot=boot - 1, version="0", ts=time.time()),
    )
    late.client.publish(topics.state("county-a.w1"), envelope.encode(will), qos=1).wait_for_publish(5)
    # A current-boot message published after it proves the coordinator has processed the stale one.
    wait_until(
        lambda: _metric(system, "hallmesh_stale_presence_total") >= 1, timeout=10, what="stale counted"
    )
    assert system.is_online("county-a.w1")
    late.stop()


def _metric(system: System, name: str) -> float:
    text = system.api("GET", "/metrics").text
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total
