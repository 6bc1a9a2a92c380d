"""Conferences through the API with a hand-driven agent, on SQLite and PostgreSQL: validation, dial
commands at the start, redial after a failed dial and after a drop, mute, hang-up at the end, restart."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from typing import Any

from coordinator.conferences import CURSOR_KEY
from protocols.messages import CommandBody, DeviceInfo
from tests.coordinator.agent_sim import AgentSim
from tests.coordinator.conftest import AUTH, Harness
from tests.support import wait_until

TERMINALS = (
    DeviceInfo(
        id="vt-1", kind="terminal", model="HM-VT100", commands=["dial", "hangup", "mute", "preset", "status"]
    ),
    DeviceInfo(
        id="vt-2", kind="terminal", model="HM-VT100", commands=["dial", "hangup", "mute", "preset", "status"]
    ),
    DeviceInfo(id="scanner1", kind="scanner", model="SANE test", commands=["scan"]),
)
ADDRESS = "meeting-1@mcu"


def ready_agent(h: Harness, agent_id: str = "a1") -> AgentSim:
    a = h.agent(agent_id)
    a.online()
    a.birth(TERMINALS)
    wait_until(lambda: h.coordinator.live.get(agent_id), what="agent registered")
    return a


def body(**over: Any) -> dict[str, Any]:
    now = time.time()
    return {
        "title": "全区视频会议",
        "address": ADDRESS,
        "start_at": now,
        "end_at": now + 300,
        "main": {"agent_id": "a1", "device_id": "vt-1"},
        "branches": [{"agent_id": "a1", "device_id": "vt-2"}],
        **over,
    }


def roll(h: Harness, conf_id: str) -> dict[str, dict[str, Any]]:
    data: dict[str, Any] = h.get(f"/api/v1/conferences/{conf_id}")  # type: ignore[assignment]
    return {p["device_id"]: p for p in data["participants"]}


def next_command(a: AgentSim, seen: set[str], device: str, action: str) -> CommandBody:
    def find() -> CommandBody | None:
        for c in list(a.commands):
            if c.device == device and c.action == action and str(c.cmd_id) not in seen:
                return c
        return None

    cmd = wait_until(find, timeout=10, what=f"{action} command for {device}")
    assert cmd is not None
    seen.add(str(cmd.cmd_id))
    return cmd


def test_validation_auth_and_cancel(harness: Harness) -> None:
    ready_agent(harness)
    post: Callable[..., Any] = lambda **kw: harness.client.post("/api/v1/conferences", headers=AUTH, **kw)  # noqa: E731
    assert harness.client.post("/api/v1/conferences", json=body()).status_code == 401
    not_terminal = post(json=body(branches=[{"agent_id": "a1", "device_id": "scanner1"}]))
    assert not_terminal.status_code == 422
    assert "a1/scanner1 is not a registered video terminal" in not_terminal.text
    assert post(json=body(branches=[{"agent_id": "nobody", "device_id": "vt-1"}])).status_code == 422
    assert post(json=body(branches=[{"agent_id": "a1", "device_id": "vt-1"}])).status_code == 422  # twice
    assert post(json=body(end_at=time.time() - 10)).status_code == 422
    assert post(json=body(address="has space")).status_code == 422
    assert post(json=body(branches=[])).status_code == 422
    assert harness.client.get(f"/api/v1/conferences/{'0' * 32}", headers=AUTH).status_code == 404

    later = post(json=body(start_at=time.time() + 3600, end_at=time.time() + 7200))
    assert later.status_code == 201, later.text
    conf_id = later.json()["id"]
    ended = harness.client.post(f"/api/v1/conferences/{conf_id}/end", headers=AUTH).json()
    assert ended["status"] == "cancelled"
    assert {p["state"] for p in ended["participants"]} == {"hung_up"}
    listing: Any = harness.get("/api/v1/conferences?status=cancelled")
    assert [c["id"] for c in listing["data"]] == [conf_id]


class Outbox:
    """The agent's outbox seq, continued across a coordinator restart (and a new agent connection)."""

    def __init__(self, agent: AgentSim) -> None:
        self.agent = agent
        self.seq = 0

    def emit(self, device: str, type_: str = "terminal.call", **data: Any) -> None:
        self.seq += 1
        self.agent.event(self.seq, device, type_, **data)

    def answer(self, cmd: CommandBody, status: str = "done", **result: Any) -> None:
        self.seq += 1
        self.agent.result(self.seq, cmd, status, **result)


def test_join_redial_drop_mute_hangup_and_restart(
    harness: Harness, start_coordinator: Callable[..., Harness]
) -> None:
    a = ready_agent(harness)
    out = Outbox(a)
    seen: set[str] = set()
    r = harness.client.post("/api/v1/conferences", json=body(), headers=AUTH)
    assert r.status_code == 201, r.text
    conf_id = r.json()["id"]

    dial1 = next_command(a, seen, "vt-1", "dial")
    dial2 = next_command(a, seen, "vt-2", "dial")
    assert dial1.args == {"address": ADDRESS}
    out.emit("vt-1", state="connected", address=ADDRESS, reason="")
    out.answer(dial1, state="connected")
    out.answer(dial2, "failed")
    wait_until(lambda: roll(harness, conf_id)["vt-1"]["state"] == "connected", what="vt-1 connected")
    wait_until(
        lambda: roll(harness, conf_id)["vt-2"]["attempts"] == 2, what="vt-2 redialled after its failure"
    )
    redial = next_command(a, seen, "vt-2", "dial")
    out.answer(redial, state="connected")  # no event: the result alone is enough
    wait_until(lambda: roll(harness, conf_id)["vt-2"]["state"] == "connected", what="vt-2 connected")

    out.emit("vt-1", "terminal.mute", muted=True)
    out.emit("vt-1", state="idle", address="", reason="remote")
    wait_until(lambda: roll(harness, conf_id)["vt-1"]["drops"] == 1, what="drop seen")
    assert roll(harness, conf_id)["vt-1"]["muted"] is True
    next_command(a, seen, "vt-1", "dial")

    # The coordinator restarts while the redial is out; the terminal's "connected" comes after it is back.
    harness.stop()
    h2 = start_coordinator()
    out.agent = ready_agent(h2, "a1")
    out.emit("vt-1", state="connected", address=ADDRESS, reason="")
    wait_until(lambda: roll(h2, conf_id)["vt-1"]["state"] == "connected", what="connected after restart")
    cursor = h2.scalar("SELECT value FROM coordinator_meta WHERE key = :k", k=CURSOR_KEY)
    assert isinstance(cursor, int)
    assert cursor >= 1
    metrics = h2.client.get("/metrics").text
    assert 'hallmesh_conference_terminal_connected{agent="a1",device="vt-1"} 1.0' in metrics
    assert "hallmesh_conferences_running 1.0" in metrics
    promtool = shutil.which("promtool") or "/usr/bin/promtool"
    lint = subprocess.run(
        [promtool, "check", "metrics"], input=metrics.encode(), capture_output=True, check=False
    )
    assert (lint.returncode, lint.stdout + lint.stderr) == (0, b"")

    ended = h2.client.post(f"/api/v1/conferences/{conf_id}/end", headers=AUTH).json()
    assert ended["status"] == "running"  # ends on the service's next tick
    hang1 = next_command(out.agent, seen, "vt-1", "hangup")
    next_command(out.agent, seen, "vt-2", "hangup")
    out.answer(hang1, state="idle")
    out.emit("vt-2", state="idle", address="", reason="hangup")
    wait_until(lambda: {p["state"] for p in roll(h2, conf_id).values()} == {"hung_up"}, what="all hung up")
    final: Any = h2.get(f"/api/v1/conferences/{conf_id}")
    assert final["status"] == "ended"
    assert final["connected"] == 0
