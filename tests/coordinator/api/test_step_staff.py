"""Staff per process step over HTTP: the workbook's sheet 办理环节人员 imports and exports again; a step staffed with someone of another county is refused with its row and column."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
import pytest

from tests.coordinator.api.conftest import Api
from workflow import xlsx
from workflow.xlsx import StaffRow

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """The API layer over SQLite (the rules run on both databases in tests/workflow)."""
    return f"sqlite:///{tmp_path / 'coordinator.db'}"


def test_step_staff_import_and_export_over_http(world: Api) -> None:
    admin = world.as_("actor-dept_admin")  # 兴庆区 SCJG
    exported = world.client.get("/api/v1/catalog/export", headers=admin)
    book = xlsx.read_book(exported.content)
    assert (book.staff, book.issues) == ([], [])
    (item,) = book.records
    row = StaffRow(item.implementation_code, item.content.name, "accept", "受理", "target-own", "target-own",
                   "640104000000", "SCJG", "clerk", 0)  # fmt: skip
    r = world.client.post(
        "/api/v1/catalog/import",
        headers={**admin, "Content-Type": XLSX},
        content=xlsx.write(book.records, [row]),
    )
    assert r.status_code == 200, r.text
    assert r.json()["updated"] == 1
    again = world.client.get("/api/v1/catalog/export", headers=admin)
    assert xlsx.read_book(again.content).staff == [row]

    sheet = openpyxl.load_workbook(io.BytesIO(again.content))
    sheet[xlsx.STAFF]["E2"] = "target-sibling"  # a clerk of 西夏区: outside the department admin's reach
    out = io.BytesIO()
    sheet.save(out)
    r = world.client.post(
        "/api/v1/catalog/import", headers={**admin, "Content-Type": XLSX}, content=out.getvalue()
    )
    assert r.status_code == 422
    assert r.json()["issues"][0] == {
        "sheet": xlsx.STAFF, "row": 2, "column": "E（工号）", "reason": "工号 target-sibling 不存在或不在您的管辖范围内",
    }  # fmt: skip
