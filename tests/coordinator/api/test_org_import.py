"""``POST /api/v1/org/import``: center admins import lower levels (workbook or CSV) within their reach; others 403;
problems answer 422 with every one of them and nothing imported."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.coordinator.api.conftest import Api
from tests.workflow.test_org_import import SHEETS, workbook
from workflow.org_import import UNITS

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """The API layer over SQLite (the import rules run on both databases in tests/workflow)."""
    return f"sqlite:///{tmp_path / 'coordinator.db'}"


def test_org_import_over_http(world: Api) -> None:
    data = workbook(SHEETS)
    post = world.client.post
    r = post("/api/v1/org/import", headers={**world.as_("actor-clerk"), "Content-Type": XLSX}, content=data)
    assert r.status_code == 403
    # a center admin of 兴庆区 (own unit) may import below it ...
    county_admin = {**world.as_("actor-center_admin"), "Content-Type": XLSX}
    r = post("/api/v1/org/import", headers=county_admin, content=data)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ok"] is True
    assert body["units"] == {"created": 4, "updated": 0, "unchanged": 0}
    assert body["windows"]["created"] == 3
    assert post("/api/v1/org/import", headers=county_admin, content=data).json()["units"]["unchanged"] == 4
    # ... but not below 西夏区
    csv = "code,name,level,parent_code\n640105001000,宁华路街道,5,640105000000\n".encode()
    r = post("/api/v1/org/import", headers={**county_admin, "Content-Type": "text/csv"}, content=csv)
    assert r.status_code == 422
    assert r.json()["issues"] == [
        {
            "sheet": UNITS,
            "row": 2,
            "column": "D（上级单位编码）",
            "reason": "上级单位 640105000000 不存在或不在您的管辖范围内",
        }
    ]
    region = {**world.as_("region-admin"), "Content-Type": "text/csv"}
    r = post("/api/v1/org/import", headers=region, content=csv)
    assert r.status_code == 200, r.text
    units = world.client.get("/api/v1/org/units", headers=world.as_("region-admin")).json()
    assert "640105001000" in {u["code"] for u in units}
