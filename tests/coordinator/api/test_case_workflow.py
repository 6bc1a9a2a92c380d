"""The case workflow over HTTP: an online application through supplement, acceptance, review, approval and
delivery, with CaseHooks fired in order, the work queues of each role, detail, search, audit and the calendar."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from pathlib import Path
from typing import Any

from sqlmodel import Session

from coordinator.blobs.store import BlobStore
from tests.coordinator.api.conftest import Api, pk
from workflow.calendar import Calendar, seed_rows
from workflow.case_engine import china_date
from workflow.cases import Case, Material
from workflow.deadlines import due_date


def _material(world: Api, case_id: int) -> int:
    with world.session() as s:
        m = Material(case_id=case_id, kind="scan", sha256="b" * 64, size=1, media_type="application/pdf",
                     agent_id="pc", device_id="scanner", capture_id=f"cap-{case_id}", captured_at=0.0,
                     filed_at=0.0)  # fmt: skip
        s.add(m)
        s.commit()
        return pk(m)


def test_an_application_from_submission_to_evaluation(world: Api) -> None:
    c = world.client
    fired: list[tuple[str, dict[str, Any], str]] = []
    world.coordinator.case_hooks.register(
        lambda _s, case, event, data: fired.append((event, data, case.applicant_phone))
    )
    version = world.ids[("version", "own")]
    r = c.post(f"/api/v1/catalog/versions/{version}/publish", headers=world.as_("actor-dept_admin"),
               json={"valid_from": "2024-01-01"})  # fmt: skip
    assert r.status_code == 200, r.text
    # a regional day off on the first working day after today moves the promised deadline by one day
    cal = Calendar({row["day"]: row["working"] for row in seed_rows()})
    today = china_date(time.time())
    day_off = cal.next_working(today + dt.timedelta(days=1))
    assert c.put(f"/api/v1/calendar/CN/{day_off}", headers=world.as_("actor-center_admin"),
                 json={"working": False}).status_code == 404  # only the region's root edits CN  # fmt: skip
    r = c.put(f"/api/v1/calendar/640000000000/{day_off}", headers=world.as_("region-admin"),
              json={"working": False, "name": "地方休息日"})  # fmt: skip
    assert r.status_code == 200, r.text
    assert c.get("/api/v1/calendar/640000000000", params={"year": day_off.year},
                 headers=world.as_("actor-clerk")).json()[0]["name"] == "地方休息日"  # fmt: skip

    clerk = world.as_("actor-clerk")
    body = {
        "item_version_id": version,
        "applicant_name": "李四",
        "applicant_phone": "13900001111",
        "channel": "2",
    }
    r = c.post("/api/v1/cases", headers=clerk, json=body)
    assert r.status_code == 201, r.text
    case = r.json()
    assert (case["state"], case["window_id"], case["unit_id"]) == (
        "submitted",
        None,
        world.ids[("unit", "own")],
    )
    url = f"/api/v1/cases/{case['id']}/actions"

    def move(who: str, **kw: Any) -> Any:
        return c.post(url, headers=world.as_(who), json=kw)

    r = move("actor-clerk", action="accept")
    assert r.status_code == 409
    assert (
        r.json()["detail"]
        == "办件当前状态为“已提交”，不能受理：申请材料不齐全，缺少：身份证明（请一次性告知补正）"
    )
    assert move("actor-clerk", action="request_supplement").json()["state"] == "supplement_requested"
    assert move("actor-clerk", action="supplement").json()["state"] == "prechecking"
    material = _material(world, case["id"])
    assert (
        move("actor-clerk", action="assign_material", material_id=material, slot="身份证明").status_code
        == 200
    )
    r = move("actor-clerk", action="accept")
    assert r.status_code == 200, r.text
    accepted = r.json()
    assert accepted["due_promised"] == str(due_date(Calendar({**cal.overrides, day_off: False}), today, 3))
    assert accepted["due_promised"] != str(due_date(cal, today, 3))

    queue = c.get("/api/v1/tasks/mine", headers=world.as_("actor-reviewer")).json()
    assert [(e["case_code"], e["task"]["step_key"]) for e in queue["data"]] == [(case["code"], "review")]
    assert c.get("/api/v1/tasks/mine", headers=world.as_("actor-approver")).json()["count"] == 0
    assert move("actor-approver", action="decide", step="review", decision="approve").status_code == 409
    assert move("actor-reviewer", action="decide", step="review", decision="approve").status_code == 200
    assert move("actor-approver", action="decide", step="approve", decision="approve").status_code == 200
    assert (
        move("actor-clerk", action="decide", step="done", decision="approve").json()["outcome"] == "approved"
    )
    assert move("actor-clerk", action="result_ready", delivery="mail").json()["state"] == "result_ready"
    assert move("actor-clerk", action="deliver", delivery="mail").json()["state"] == "delivered"
    assert move("actor-clerk", action="evaluate", score=6).status_code == 422
    assert move("actor-clerk", action="evaluate", score=5).json()["state"] == "evaluated"

    detail = c.get(f"/api/v1/cases/{case['id']}/detail", headers=world.as_("actor-supervisor")).json()
    assert [e["type"] for e in detail["timeline"]] == [
        "submitted", "supplement_requested", "supplemented", "material_assigned", "accepted", "step_completed",
        "step_completed", "step_completed", "concluded", "result_ready", "delivered", "evaluated",
    ]  # fmt: skip
    assert detail["slots"][0] == {"name": "身份证明", "required": True, "material_ids": [material]}
    assert detail["missing"] == []
    assert detail["timeline"][1]["data"]["missing"] == ["身份证明"]
    events = [e for e, _, _ in fired]
    assert events == [e["type"] for e in detail["timeline"]]
    assert {p for _, _, p in fired} == {"13900001111"}
    assert dict(fired[8][1]) == {"outcome": "approved", "step": "done", "opinion": ""}

    supervisor = world.as_("actor-supervisor")
    assert c.get(f"/api/v1/cases/{case['id']}/audit", headers=supervisor).json()["ok"] is True
    report = c.get("/api/v1/audit/verify", headers=world.as_("region-admin")).json()
    assert (report["ok"], report["cases"]) == (True, 5)
    found = c.get("/api/v1/cases", params={"q": case["code"]}, headers=clerk).json()
    assert [x["id"] for x in found["data"]] == [case["id"]]
    assert c.get("/api/v1/cases", params={"state": "evaluated"}, headers=clerk).json()["count"] == 1
    # the other department's clerk: neither in the search nor by id
    other = world.as_("target-other_dept")
    assert c.get("/api/v1/cases", params={"q": case["code"]}, headers=other).json()["count"] == 0
    assert c.get(f"/api/v1/cases/{case['id']}", headers=other).status_code == 404


def test_audit_endpoint_reports_the_first_broken_link(world: Api) -> None:
    case_id = world.ids[("case", "own")]
    with Session(world.engine) as s:
        row = s.get(Case, case_id)
        assert row is not None
        row.ledger_seq = 2  # the case claims an event the ledger no longer has
        s.add(row)
        s.commit()
    r = world.client.get(f"/api/v1/cases/{case_id}/audit", headers=world.as_("actor-center_admin")).json()
    assert r["ok"] is False
    assert r["first_break"]["case_id"] == case_id
    assert "链尾" in r["first_break"]["reason"]


def test_an_upload_fills_a_slot_and_lets_the_case_be_accepted(world: Api, tmp_path: Path) -> None:
    world.coordinator.blobs = BlobStore(tmp_path / "blobs", world.engine, 1_000_000)
    case_id, clerk = world.ids[("case", "own")], world.as_("actor-clerk")
    url = f"/api/v1/cases/{case_id}/materials"
    pdf = b"%PDF-1.4\n% an identity document\n"
    r = world.client.post(url, headers={**clerk, "Content-Type": "text/plain"}, content=b"hello")
    assert r.status_code == 415
    r = world.client.post(url, params={"slot": "户口本"}, headers={**clerk, "Content-Type": "application/pdf"},
                          content=pdf)  # fmt: skip
    assert r.status_code == 422
    r = world.client.post(url, params={"slot": "身份证明"}, headers={**clerk, "Content-Type": "application/pdf"},
                          content=pdf)  # fmt: skip
    assert r.status_code == 201, r.text
    assert (r.json()["slot"], r.json()["kind"], r.json()["sha256"]) == (
        "身份证明",
        "upload",
        hashlib.sha256(pdf).hexdigest(),
    )
    detail = world.client.get(f"/api/v1/cases/{case_id}/detail", headers=clerk).json()
    assert detail["missing"] == []
    r = world.client.post(f"/api/v1/cases/{case_id}/actions", headers=clerk, json={"action": "accept"})
    assert r.json()["state"] == "in_progress", r.text
