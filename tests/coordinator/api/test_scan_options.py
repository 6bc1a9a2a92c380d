"""Scanner options of a capture (``POST /api/v1/cases/{id}/captures`` with ``device_kind: scanner``): what the
clerk chose reaches the ``scan`` command the agent receives, and a bad value is a 422 naming the field — with no
command sent. Real peers: the app with its lifespan, the mTLS broker, the in-test ``AgentSim``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from coordinator.security import Passwords
from coordinator.settings import Settings
from provisioning.broker import Broker
from provisioning.pki import Pki
from tests.coordinator.conftest import Harness, make_settings
from tests.support import wait_until
from workflow.cases import Case, CounterCase
from workflow.org import Hall, OrgUnit, Window
from workflow.staff import Staff

AGENT = "pc-scan-options"
PASSWORD = "scan options password"


def _counter(h: Harness) -> tuple[int, dict[str, str]]:
    """A window bound to ``AGENT`` with an open case in front of a clerk; the case id and the clerk's bearer."""
    with Session(h.engine) as s:
        unit = OrgUnit(code="640199000001", name="测试单位", level=2, path="/")
        s.add(unit)
        s.flush()
        assert unit.id is not None
        unit.path = f"/{unit.id}/"
        hall = Hall(unit_id=unit.id, name="大厅")
        s.add(hall)
        s.flush()
        assert hall.id is not None
        window = Window(hall_id=hall.id, unit_id=unit.id, number="1", name="1号窗口", agent_id=AGENT)
        clerk = Staff(employee_no="scan-clerk", name="张三", unit_id=unit.id, roles="clerk",
                      password_hash=Passwords.from_settings(h.settings).hash(PASSWORD))  # fmt: skip
        s.add_all([unit, window, clerk])
        s.flush()
        assert window.id is not None
        assert clerk.id is not None
        case = Case(code="C-scan-options", unit_id=unit.id, window_id=window.id, opened_by=clerk.id,
                    opened_at=time.time())  # fmt: skip
        s.add(case)
        s.flush()
        assert case.id is not None
        s.add(CounterCase(window_id=window.id, case_id=case.id, since=time.time()))
        s.commit()
        case_id = case.id
    r = h.client.post("/api/v1/auth/login", json={"employee_no": "scan-clerk", "password": PASSWORD})
    assert r.status_code == 200, r.text
    return case_id, {"Authorization": f"Bearer {r.json()['access_token']}"}


def _scan(h: Harness, case_id: int, auth: dict[str, str], args: dict[str, Any]) -> Any:
    return h.client.post(
        f"/api/v1/cases/{case_id}/captures", json={"device_kind": "scanner", "args": args}, headers=auth
    )


@pytest.fixture
def coordinator_settings(pki: Pki, broker: Broker, db_url: str, tmp_path: Path) -> Settings:
    """The harness's settings with staff sign-in on (a JWT secret; cheap password hashing for the test)."""
    return make_settings(pki, broker, db_url, tmp_path / "data", jwt_secret="j" * 64, argon2_time_cost=1,
                         argon2_memory_kib=8, argon2_parallelism=1)  # fmt: skip


@pytest.fixture
def counter(harness: Harness) -> tuple[Harness, Any, int, dict[str, str]]:
    case_id, auth = _counter(harness)
    agent = harness.agent(AGENT)
    agent.online()
    agent.birth()
    wait_until(lambda: harness.coordinator.live.get(AGENT), what="agent registered")
    return harness, agent, case_id, auth


def test_the_clerks_scan_options_reach_the_scan_command(
    counter: tuple[Harness, Any, int, dict[str, str]],
) -> None:
    h, agent, case_id, auth = counter
    r = _scan(h, case_id, auth, {"source": "ADF", "resolution": 200, "mode": "Lineart", "pages": 3})
    assert r.status_code == 202, r.text
    r2 = _scan(h, case_id, auth, {"source": "Flatbed", "resolution": 150, "mode": "Gray"})
    assert r2.status_code == 202, r2.text
    r3 = _scan(h, case_id, auth, {})  # nothing chosen: the driver's defaults
    assert r3.status_code == 202, r3.text
    wait_until(lambda: len([c for c in agent.commands if c.action == "scan"]) == 3, what="3 scan commands")
    sent = {str(c.cmd_id): c for c in agent.commands if c.action == "scan"}
    adf, flatbed, plain = (sent[x.json()["cmd_id"]] for x in (r, r2, r3))
    assert (adf.device, adf.args) == (
        "scanner1", {"source": "ADF", "resolution": 200, "mode": "Lineart", "pages": 3, "case": case_id},
    )  # fmt: skip
    assert flatbed.args == {"source": "Flatbed", "resolution": 150, "mode": "Gray", "case": case_id}
    assert plain.args == {"case": case_id}


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"resolution": 1200}, "resolution"),
        ({"resolution": "300"}, "resolution"),
        ({"mode": "Sepia"}, "mode"),
        ({"source": "Tray"}, "source"),
        ({"source": "ADF", "pages": 0}, "pages"),
        ({"source": "Flatbed", "pages": 2}, "pages"),
        ({"duplex": True}, "duplex"),
        ({"case": 999}, "case"),  # the case is the one in the path, never the client's
    ],
)
def test_bad_scan_options_are_a_422_naming_the_field_and_send_nothing(
    counter: tuple[Harness, Any, int, dict[str, str]], args: dict[str, Any], field: str
) -> None:
    h, agent, case_id, auth = counter
    r = _scan(h, case_id, auth, args)
    assert r.status_code == 422, r.text
    assert [e["loc"] for e in r.json()["detail"]] == [["body", "args", field]]
    assert h.scalar("SELECT count(*) FROM command WHERE action = 'scan'") == 0
    # A good request afterwards still goes out: the refusal left nothing behind.
    assert _scan(h, case_id, auth, {"mode": "Color"}).status_code == 202
    wait_until(lambda: any(c.action == "scan" for c in agent.commands), what="scan command")
