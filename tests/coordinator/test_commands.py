"""Command lifecycle through the API: pending → sent → done/failed/rejected/expired."""

from __future__ import annotations

from typing import Any

from tests.coordinator.agent_sim import AgentSim
from tests.coordinator.conftest import AUTH, Harness
from tests.support import wait_until


def post(h: Harness, agent: str, device: str, **json: Any) -> Any:
    return h.client.post(f"/api/v1/agents/{agent}/devices/{device}/commands", json=json, headers=AUTH)


def command(h: Harness, cmd_id: str) -> dict[str, Any]:
    r = h.client.get(f"/api/v1/commands/{cmd_id}", headers=AUTH)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def ready_agent(h: Harness) -> AgentSim:
    a = h.agent("a1")
    a.online()
    a.birth()
    wait_until(lambda: h.coordinator.live.get("a1"), what="agent registered")
    return a


def test_command_is_published_and_result_completes_it(harness: Harness) -> None:
    a = ready_agent(harness)
    r = post(harness, "a1", "scanner1", action="scan", args={"dpi": 300}, ttl_s=30)
    assert r.status_code == 202, r.text
    created = r.json()
    assert created["status"] in ("pending", "sent")
    assert created["expires_at"] - created["created_at"] == 30
    wait_until(lambda: a.commands, what="down/cmd delivered")
    cmd = a.commands[0]
    assert (str(cmd.cmd_id), cmd.device, cmd.action, cmd.args) == (
        created["cmd_id"],
        "scanner1",
        "scan",
        {"dpi": 300},
    )
    assert command(harness, created["cmd_id"])["status"] == "sent"
    a.wait_acked([a.result(1, cmd, "done", pages=2)])
    done = command(harness, created["cmd_id"])
    assert (done["status"], done["result"], done["attempts"]) == ("done", {"pages": 2}, 1)
    assert done["finished_at"] >= done["sent_at"]
    # The same result replayed changes nothing and is acknowledged again.
    result_id = a.acked[-1]
    a.acked.clear()
    a.replay(1)
    a.wait_acked([result_id])
    assert command(harness, created["cmd_id"])["finished_at"] == done["finished_at"]
    listing = harness.get("/api/v1/commands", params={"agent_id": "a1", "status": "done"})
    assert isinstance(listing, dict)
    assert [c["cmd_id"] for c in listing["data"]] == [created["cmd_id"]]


def test_failed_and_rejected_results(harness: Harness) -> None:
    a = ready_agent(harness)
    ids = [post(harness, "a1", "printer1", action="print").json()["cmd_id"] for _ in range(2)]
    wait_until(lambda: len(a.commands) == 2, what="two commands delivered")
    a.result(1, a.commands[0], "failed")
    a.wait_acked([a.result(2, a.commands[1], "rejected")])
    assert [command(harness, i)["status"] for i in ids] == ["failed", "rejected"]


def test_open_command_expires_by_the_coordinators_clock(harness: Harness) -> None:
    ready_agent(harness)
    cmd_id = post(harness, "a1", "scanner1", action="scan", ttl_s=0.3).json()["cmd_id"]
    wait_until(lambda: command(harness, cmd_id)["status"] == "expired", what="command expired")
    assert command(harness, cmd_id)["error"] == "expired before a result arrived"


def test_unanswered_command_is_republished(start_coordinator: Any, coordinator_settings: Any) -> None:
    h = start_coordinator(coordinator_settings.model_copy(update={"command_resend_s": 0.3}))
    a = ready_agent(h)
    cmd_id = post(h, "a1", "scanner1", action="scan").json()["cmd_id"]
    wait_until(lambda: len(a.commands) >= 2, what="command published again")
    assert {str(c.cmd_id) for c in a.commands} == {cmd_id}
    assert command(h, cmd_id)["attempts"] >= 2


def test_agent_rebirth_command(harness: Harness) -> None:
    a = ready_agent(harness)
    r = post(harness, "a1", "@agent", action="rebirth")
    assert r.status_code == 202, r.text
    wait_until(a.rebirth_commands, what="rebirth delivered")


def test_errors_name_what_is_wrong(harness: Harness) -> None:
    ready_agent(harness)
    r = post(harness, "nobody", "scanner1", action="scan")
    assert (r.status_code, r.json()["detail"]) == (404, "agent 'nobody' is not registered")
    r = post(harness, "a1", "cam9", action="scan")
    assert (r.status_code, r.json()["detail"]) == (404, "agent 'a1' has no device 'cam9'")
    r = post(harness, "a1", "scanner1", action="print")
    assert r.status_code == 422
    assert "offers scan" in r.json()["detail"]
    r = post(harness, "a1", "scanner1", args={})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "action"]
    r = post(harness, "a1", "scanner1", action="scan", ttl_s=-1)
    assert r.json()["detail"][0]["loc"] == ["body", "ttl_s"]
    r = harness.client.get("/api/v1/commands/not-a-uuid", headers=AUTH)
    assert r.status_code == 422
    r = harness.client.get("/api/v1/commands/00000000-0000-0000-0000-000000000000", headers=AUTH)
    assert r.status_code == 404
