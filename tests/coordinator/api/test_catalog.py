"""Catalog API: create → publish → overlap refused (409) → close → publish; workbook import/export over HTTP;
the public catalog shows only what is valid today."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import openpyxl
import pytest

from tests.coordinator.api.conftest import Api, content
from workflow import xlsx

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """The API layer over SQLite (the domain rules run on both databases in tests/workflow)."""
    return f"sqlite:///{tmp_path / 'coordinator.db'}"


def test_versions_over_http(world: Api) -> None:
    admin = world.as_("actor-dept_admin")
    body = {
        "implementation_code": "11640104XK0001", "basic_code": "000101001000",
        "unit_id": world.ids[("unit", "own")], "department_id": world.ids[("dept", "own")],
        "content": content("食品经营许可").model_dump(mode="json"),
    }  # fmt: skip
    r = world.client.post("/api/v1/catalog/items", headers=admin, json=body)
    assert r.status_code == 201, r.text
    item = r.json()
    v1 = item["versions"][0]["id"]
    assert world.client.post("/api/v1/catalog/items", headers=admin, json=body).status_code == 409
    today = dt.date.today()
    r = world.client.post(
        f"/api/v1/catalog/versions/{v1}/publish",
        headers=admin,
        json={"valid_from": str(today - dt.timedelta(days=30))},
    )
    assert r.status_code == 200
    assert r.json()["status"] == "published"
    r = world.client.put(
        f"/api/v1/catalog/versions/{v1}", headers=admin, json=content("改").model_dump(mode="json")
    )
    assert r.status_code == 409

    r = world.client.post(f"/api/v1/catalog/items/{item['id']}/versions", headers=admin, json={})
    assert r.status_code == 201
    v2 = r.json()["id"]
    later = str(today + dt.timedelta(days=10))
    r = world.client.post(f"/api/v1/catalog/versions/{v2}/publish", headers=admin, json={"valid_from": later})
    assert r.status_code == 409
    assert "重叠" in r.json()["detail"]
    assert (
        world.client.post(
            f"/api/v1/catalog/versions/{v1}/close", headers=admin, json={"valid_to": later}
        ).status_code
        == 200
    )
    assert (
        world.client.post(
            f"/api/v1/catalog/versions/{v2}/publish", headers=admin, json={"valid_from": later}
        ).status_code
        == 200
    )

    public = world.client.get("/api/public/v1/items", params={"q": "食品"}).json()
    assert public["count"] == 1
    assert public["data"][0]["version_id"] == v1  # v2 starts in ten days
    assert public["data"][0]["unit_name"] == "兴庆区"
    assert world.client.get(f"/api/public/v1/items/{item['id']}").json()["version_id"] == v1
    drafts_only = world.ids[("item", "own")]
    assert world.client.get(f"/api/public/v1/items/{drafts_only}").status_code == 404
    assert world.client.get("/api/public/v1/items", params={"department_code": "GA"}).json()["count"] == 0


def test_workbook_over_http(world: Api) -> None:
    admin = world.as_("actor-dept_admin")
    exported = world.client.get("/api/v1/catalog/export", headers=admin)
    assert exported.status_code == 200
    assert exported.headers["content-type"] == XLSX
    recs, issues = xlsx.read(exported.content)
    assert issues == []
    assert [r.implementation_code for r in recs] == ["IMPL-own"]  # only what the admin can see

    book = openpyxl.load_workbook(io.BytesIO(exported.content))
    book[xlsx.CATALOG].append(["NEW-1", "B-1", "新事项", "01", "4", "640105000000", "1", "SCJG"])
    out = io.BytesIO()
    book.save(out)
    r = world.client.post(
        "/api/v1/catalog/import", headers={**admin, "Content-Type": XLSX}, content=out.getvalue()
    )
    assert r.status_code == 422
    report = r.json()
    assert report["ok"] is False
    assert [(i["sheet"], i["row"]) for i in report["issues"]] == [
        (xlsx.CATALOG, 3)
    ]  # no 梳理内容 row for NEW-1

    recs[0].content.promised_limit = 7
    r = world.client.post(
        "/api/v1/catalog/import", headers={**admin, "Content-Type": XLSX}, content=xlsx.write(recs)
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"ok": True, "created": 0, "updated": 1, "unchanged": 0, "issues": []}
    clerk = world.as_("actor-clerk")
    r = world.client.post(
        "/api/v1/catalog/import", headers={**clerk, "Content-Type": XLSX}, content=xlsx.write(recs)
    )
    assert r.status_code == 403


def test_process_over_http(world: Api) -> None:
    admin = world.as_("actor-dept_admin")
    version = world.ids[("version", "own")]
    r = world.client.get(f"/api/v1/catalog/versions/{version}/process", headers=admin)
    assert r.status_code == 200
    assert r.json()["critical_path_days"] == 3
    body = r.json()
    del body["version_id"], body["critical_path_days"]
    body["steps"][-1]["kind"] = "审批"
    r = world.client.put(f"/api/v1/catalog/versions/{version}/process", headers=admin, json=body)
    assert r.status_code == 422
    assert "结束环节" in r.json()["detail"]
    item = world.ids[("item", "own")]
    world.client.post(
        f"/api/v1/catalog/versions/{version}/publish", headers=admin, json={"valid_from": "2026-01-01"}
    )
    draft = world.client.post(f"/api/v1/catalog/items/{item}/versions", headers=admin, json={}).json()["id"]
    copied = world.client.get(f"/api/v1/catalog/versions/{draft}/process", headers=admin)
    assert copied.status_code == 200
    assert (
        copied.json()["steps"]
        == world.client.get(f"/api/v1/catalog/versions/{version}/process", headers=admin).json()["steps"]
    )
