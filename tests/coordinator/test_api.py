"""The HTTP API: bearer token, listings with filters, event paging, /healthz, local docs."""

from __future__ import annotations

from typing import Any

import pytest

from tests.coordinator.agent_sim import AgentSim
from tests.coordinator.conftest import AUTH, Harness
from tests.support import wait_until

PROTECTED = [
    "/api/v1/agents",
    "/api/v1/agents/a1",
    "/api/v1/devices",
    "/api/v1/commands",
    "/api/v1/agents/a1/events",
    "/api/v1/commands/00000000-0000-0000-0000-000000000000",
]


def registered(h: Harness, agent_id: str, **kw: Any) -> AgentSim:
    a = h.agent(agent_id, **kw)
    a.online()
    a.birth()
    wait_until(lambda: h.coordinator.live.get(agent_id), what=f"{agent_id} registered")
    return a


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_api_requires_the_bearer_token(harness: Harness) -> None:
    for url in PROTECTED:
        r = harness.client.get(url)
        assert r.status_code == 401, url
        assert r.headers["www-authenticate"] == "Bearer"
        assert harness.client.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
    r = harness.client.post("/api/v1/agents/a1/devices/d/commands", json={"action": "x"})
    assert r.status_code == 401
    for open_url in ("/healthz", "/metrics", "/openapi.json", "/docs"):
        assert harness.client.get(open_url).status_code == 200, open_url


def test_agents_devices_and_events(harness: Harness) -> None:
    a = registered(harness, "a1")
    b = registered(harness, "b2")
    a.dev_state("scanner1", "up")
    a.dev_state("printer1", "down")
    b.dev_state("scanner1", "degraded")
    ids = [a.event(seq, type_="capture") for seq in range(1, 8)]
    a.wait_acked(ids)
    wait_until(
        lambda: harness.scalar("SELECT count(*) FROM device WHERE status != 'unknown'") == 3, what="states"
    )

    agents = harness.get("/api/v1/agents")
    assert isinstance(agents, dict)
    assert agents["count"] == 2
    row = agents["data"][0]
    assert (row["id"], row["online"], row["device_count"], row["outbox_hwm"]) == ("a1", True, 2, 7)
    assert row["last_seen"] is not None

    def devices(**params: str) -> list[tuple[str, str]]:
        data = harness.get("/api/v1/devices", params=params)
        assert isinstance(data, dict)
        return [(d["agent_id"], d["device_id"]) for d in data["data"]]

    assert devices(status="down") == [("a1", "printer1")]
    assert devices(kind="scanner") == [("a1", "scanner1"), ("b2", "scanner1")]
    assert devices(agent_id="b2", status="degraded") == [("b2", "scanner1")]
    r = harness.client.get("/api/v1/devices", params={"status": "broken"}, headers=AUTH)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["query", "status"]

    page1 = harness.get("/api/v1/agents/a1/events", params={"limit": 5})
    assert isinstance(page1, dict)
    assert [e["seq"] for e in page1["data"]] == [1, 2, 3, 4, 5]
    assert page1["data"][0]["data"] == {"n": 1}
    assert page1["data"][0]["msg_id"] == str(ids[0])
    page2 = harness.get("/api/v1/agents/a1/events", params={"after_id": page1["next_after_id"]})
    assert isinstance(page2, dict)
    assert [e["seq"] for e in page2["data"]] == [6, 7]

    r = harness.client.get("/api/v1/agents/zz", headers=AUTH)
    assert (r.status_code, r.json()) == (404, {"detail": "agent 'zz' is not registered"})
    r = harness.client.get("/api/v1/agents/zz/events", headers=AUTH)
    assert r.status_code == 404
    r = harness.client.get("/api/v1/agents/a1/events", params={"limit": 0}, headers=AUTH)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["query", "limit"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_healthz_names_the_part_that_is_down(harness: Harness) -> None:
    assert harness.client.get("/healthz").json() == {
        "status": "ok",
        "database": "ok",
        "mqtt": "ok",
        "ingest": "ok",
    }
    harness.broker.stop()
    wait_until(lambda: harness.client.get("/healthz").status_code == 503, what="healthz 503")
    body = harness.client.get("/healthz").json()
    assert (body["status"], body["database"], body["mqtt"]) == (
        "down",
        "ok",
        "down: not connected to the broker",
    )
    harness.broker.start()
    wait_until(lambda: harness.client.get("/healthz").status_code == 200, timeout=20, what="healthz back")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_docs_are_local(harness: Harness) -> None:
    page = harness.client.get("/docs").text
    assert "openapi.json" in page
    assert "http://" not in page
    assert "https://" not in page
    spec = harness.client.get("/openapi.json").json()
    assert "/api/v1/agents/{agent_id}/devices/{device_id}/commands" in spec["paths"]
    assert harness.client.get("/redoc").status_code == 404
