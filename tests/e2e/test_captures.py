"""Captures land in the case — complete, intact, exactly once — even when the coordinator goes away.

Real processes: Mosquitto (mTLS), `hallmesh coordinator serve` on SQLite, `hallmesh agent run` with a sim
device whose ``capture`` action produces page photos through the agent's blob pipeline.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from typing import Any

import httpx
import sqlalchemy as sa

from hallmesh_cli.demo_org import DemoUser, seed_demo
from tests.e2e.system import System
from tests.support import wait_until

AGENT = "yinchuan-xingqing-w9"  # the demo organisation binds windows of 兴庆区 to agents named like this
JWT = "e2e-jwt-secret-" + "x" * 40


def _materials(system: System, case_id: int) -> list[tuple[str, str, int]]:
    with sqlite3.connect(f"file:{system.sqlite_path}?mode=ro", uri=True, timeout=10) as conn:
        rows = conn.execute(
            "SELECT capture_id, sha256, size FROM case_material WHERE case_id = ? ORDER BY id", (case_id,)
        ).fetchall()
    return [(str(c), str(s), int(n)) for c, s, n in rows]


def _start(system: System) -> tuple[httpx.Client, list[DemoUser]]:
    system.extra_env["HALLMESH_JWT_SECRET"] = JWT
    system.start_coordinator()
    users = seed_demo(sa.create_engine(f"sqlite:///{system.sqlite_path}"), [AGENT])
    clerk = next(u for u in users if u.employee_no == "demo-clerk")
    system.add_agent(AGENT, extra=f'[coordinator]\nurl = "{system.base_url}"\n')
    system.start_agent(AGENT)
    wait_until(lambda: system.is_online(AGENT), timeout=20, what="agent online")
    # No keep-alive: the coordinator is killed under this client, and a pooled connection to the dead
    # process would be left for the garbage collector.
    http = httpx.Client(
        base_url=system.base_url, timeout=10, limits=httpx.Limits(max_keepalive_connections=0)
    )
    r = http.post("/api/v1/auth/login", json={"employee_no": clerk.employee_no, "password": clerk.password})
    assert r.status_code == 200, r.text
    http.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
    return http, users


def _open_case(system: System, http: httpx.Client) -> dict[str, Any]:
    with sqlite3.connect(f"file:{system.sqlite_path}?mode=ro", uri=True, timeout=10) as conn:
        (window_id,) = conn.execute("SELECT id FROM org_window WHERE agent_id = ?", (AGENT,)).fetchone()
    r = http.post(
        "/api/v1/cases",
        json={"window_id": window_id, "title": "个体工商户设立登记", "applicant_name": "李四"},
    )
    assert r.status_code == 201, r.text
    case: dict[str, Any] = r.json()
    return case


def test_captures_survive_a_coordinator_outage_exactly_once(system: System) -> None:
    http, _users = _start(system)
    case = _open_case(system, http)
    count = 24
    system.command(
        AGENT, "sim-1", "capture", {"case": case["id"], "count": count, "width": 640, "height": 480}
    )
    wait_until(lambda: len(_materials(system, case["id"])) >= 3, timeout=30, what="first materials filed")
    system.kill_coordinator()  # mid-stream: some captures filed, the rest spooled at the agent
    time.sleep(2)  # an outage of a few seconds: uploads fail and back off meanwhile (the point of the test)
    system.start_coordinator()
    wait_until(
        lambda: len(_materials(system, case["id"])) >= count, timeout=90, what=f"{count} materials filed"
    )
    rows = _materials(system, case["id"])
    assert len(rows) == count
    assert len({c for c, _s, _n in rows}) == count  # no capture twice
    assert len({s for _c, s, _n in rows}) == count  # every seed gives a different picture

    # Intact: each material's content, read back through the clerk's scoped API, hashes to its sha256.
    detail = http.get(f"/api/v1/cases/{case['id']}").json()
    assert len(detail["materials"]) == count
    for m in detail["materials"][:5]:
        body = http.get(f"/api/v1/cases/{case['id']}/materials/{m['id']}/content")
        assert body.status_code == 200
        assert hashlib.sha256(body.content).hexdigest() == m["sha256"]
        assert body.headers["content-type"] == "image/jpeg"
    http.close()
    # Nothing left waiting at the agent: its spool is empty.
    spool = system.root / "agents" / AGENT / "data" / "spool"
    assert [p.name for p in spool.glob("*.blob")] == []


def test_other_staff_cannot_read_the_case_materials(system: System) -> None:
    http, users = _start(system)
    case = _open_case(system, http)
    system.command(AGENT, "sim-1", "capture", {"case": case["id"]})
    wait_until(lambda: len(_materials(system, case["id"])) == 1, timeout=30, what="material filed")
    mid = http.get(f"/api/v1/cases/{case['id']}").json()["materials"][0]["id"]
    tech = next(u for u in users if u.employee_no == "demo-technician")
    with httpx.Client(base_url=system.base_url, timeout=10) as other:
        login = {"employee_no": tech.employee_no, "password": tech.password}
        other.headers["Authorization"] = (
            f"Bearer {other.post('/api/v1/auth/login', json=login).json()['access_token']}"
        )
        denied = other.get(f"/api/v1/cases/{case['id']}/materials/{mid}/content")
        assert denied.status_code == 403  # technicians have no case role: personal data stays with case staff
        assert other.get(f"/api/v1/cases/{case['id']}").status_code == 403
    anonymous = httpx.get(f"{system.base_url}/api/v1/cases/{case['id']}/materials/{mid}/content")
    assert anonymous.status_code == 401
