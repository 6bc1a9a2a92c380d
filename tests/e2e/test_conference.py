"""A scheduled conference of 5 simulated terminals on 3 agents, with real processes and Mosquitto:
all join within 10 s of the start (one after a failed first dial), a dropped terminal shows in the roll
call within 5 s and is redialled, the roll call carries mute and packet loss, and all hang up at the end."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from protocols.terminal import CallState
from simulators.terminal import TerminalSim, TerminalSimOptions
from tests.e2e.system import System
from tests.support import wait_until

ADDRESS = "gov-meeting-7@mcu.region"
LAYOUT = {  # agent → terminals; the main venue first
    "region.main": ["vt-main"],
    "yinchuan.br": ["vt-1", "vt-2"],
    "wuzhong.br": ["vt-1", "vt-2"],
}


@pytest.fixture
def sims() -> Iterator[dict[tuple[str, str], TerminalSim]]:
    out: dict[tuple[str, str], TerminalSim] = {}
    try:
        for agent_id, devices in LAYOUT.items():
            for device_id in devices:
                opts = TerminalSimOptions(
                    connect_delay_s=0.3, stats_interval_s=0.5, serial=f"{agent_id}/{device_id}"
                )
                out[(agent_id, device_id)] = TerminalSim(opts).start()
        yield out
    finally:
        for sim in out.values():
            sim.stop()


def _roll(system: System, conf_id: str) -> dict[tuple[str, str], dict[str, Any]]:
    body = system.api("GET", f"/api/v1/conferences/{conf_id}").json()
    return {(p["agent_id"], p["device_id"]): p for p in body["participants"]}


def _conference(system: System, conf_id: str) -> dict[str, Any]:
    body: dict[str, Any] = system.api("GET", f"/api/v1/conferences/{conf_id}").json()
    return body


def test_scheduled_conference_joins_redials_and_hangs_up(
    system: System, sims: dict[tuple[str, str], TerminalSim]
) -> None:
    figures: dict[str, float] = {}
    system.start_coordinator()
    for agent_id, devices in LAYOUT.items():
        agent = system.add_agent(agent_id, devices=0)
        with agent.config.open("a") as fh:
            for device_id in devices:
                fh.write(
                    f'[[devices]]\nid = "{device_id}"\nkind = "terminal"\nport = {sims[(agent_id, device_id)].port}\n'
                    "poll_interval_s = 1\ndial_timeout_s = 5\n"
                )
        system.start_agent(agent_id)

    def terminals_up() -> bool:
        devices = system.api("GET", "/api/v1/devices?kind=terminal").json()["data"]
        return sum(1 for d in devices if d["status"] == "up") == 5

    wait_until(terminals_up, timeout=30, what="5 terminals up in the registry")

    # One branch venue's first dial fails: the conference redials it.
    sims[("wuzhong.br", "vt-2")].fail_next_dials(1)
    start_at = time.time() + 2
    resp = system.api(
        "POST",
        "/api/v1/conferences",
        json={
            "title": "全区政务服务视频会议",
            "address": ADDRESS,
            "start_at": start_at,
            "end_at": start_at + 120,
            "main": {"agent_id": "region.main", "device_id": "vt-main"},
            "branches": [
                {"agent_id": a, "device_id": d} for a, ds in LAYOUT.items() if a != "region.main" for d in ds
            ],
        },
    )
    assert resp.status_code == 201, resp.text
    conf = resp.json()
    conf_id = conf["id"]
    assert conf["status"] == "scheduled"
    assert [p["role"] for p in conf["participants"]] == ["main", "branch", "branch", "branch", "branch"]
    assert {p["state"] for p in conf["participants"]} == {"waiting"}

    wait_until(
        lambda: _conference(system, conf_id)["connected"] == 5,
        timeout=start_at - time.time() + 10,
        what="all 5 joined",
    )
    figures["all joined after start (s)"] = time.time() - start_at
    assert figures["all joined after start (s)"] < 10
    assert all(
        s.status().call is CallState.CONNECTED and s.status().address == ADDRESS for s in sims.values()
    )
    roll = _roll(system, conf_id)
    assert roll[("wuzhong.br", "vt-2")]["attempts"] == 2
    assert all(p["agent_online"] and p["joined_at"] for p in roll.values())
    assert _conference(system, conf_id)["status"] == "running"

    # A terminal drops: the roll call shows it within 5 s, and it is redialled.
    dropped = ("yinchuan.br", "vt-2")
    dropped_at = time.monotonic()
    sims[dropped].drop_call()
    wait_until(lambda: _roll(system, conf_id)[dropped]["drops"] == 1, timeout=5, what="drop in the roll call")
    figures["drop in roll call (s)"] = time.monotonic() - dropped_at
    wait_until(lambda: _roll(system, conf_id)[dropped]["state"] == "connected", timeout=10, what="redialled")
    figures["drop to reconnected (s)"] = time.monotonic() - dropped_at
    assert sims[dropped].dials == 2

    # Live roll call: muted, packet loss (the terminal turns degraded above 5 %).
    lossy = ("wuzhong.br", "vt-1")
    sims[lossy].set_quality(loss_pct=7.5)
    sims[("region.main", "vt-main")].set_muted(True)

    def roll_shows_quality() -> bool:
        roll = _roll(system, conf_id)
        return (
            roll[lossy]["packet_loss_percent"] == 7.5
            and roll[lossy]["device_status"] == "degraded"
            and roll[("region.main", "vt-main")]["muted"] is True
        )

    wait_until(roll_shows_quality, timeout=10, what="loss and mute in the roll call")

    metrics = system.api("GET", "/metrics").text
    assert 'hallmesh_conference_terminal_connected{agent="region.main",device="vt-main"} 1.0' in metrics
    assert 'hallmesh_conference_terminal_drops_total{agent="yinchuan.br",device="vt-2"} 1.0' in metrics
    assert 'hallmesh_conference_terminal_dial_failures_total{agent="wuzhong.br",device="vt-2"} 1.0' in metrics
    assert "hallmesh_conference_join_seconds_count 5.0" in metrics
    assert "hallmesh_conferences_running 1.0" in metrics

    # The end: every terminal hangs up.
    ended_at = time.monotonic()
    assert system.api("POST", f"/api/v1/conferences/{conf_id}/end").status_code == 200
    wait_until(
        lambda: {p["state"] for p in _roll(system, conf_id).values()} == {"hung_up"},
        timeout=10,
        what="all hung up",
    )
    figures["end to all hung up (s)"] = time.monotonic() - ended_at
    assert all(s.status().call is CallState.IDLE for s in sims.values())
    assert all(s.history[-1] == ("idle", "hangup") for s in sims.values())
    assert _conference(system, conf_id)["status"] == "ended"
    listing = system.api("GET", "/api/v1/conferences?status=ended").json()
    assert [c["id"] for c in listing["data"]] == [conf_id]
    print("conference figures:", {k: round(v, 2) for k, v in figures.items()})
