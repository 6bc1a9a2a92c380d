"""Lower levels of the organisation from a workbook or CSV: townships, villages, departments, halls, windows;
every problem by sheet, row, column and reason, nothing imported then; importing again changes nothing."""

from __future__ import annotations

import io
from typing import Any

import openpyxl
import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from tests.workflow.conftest import region_scope
from workflow.codes import Role
from workflow.org import Department, Hall, OrgUnit, Window, unit_by_code
from workflow.org_import import COLUMNS, DEPARTMENTS, HALLS, UNITS, WINDOWS, import_org
from workflow.scope import Scope
from workflow.seed import ningxia_csv

XQ = "640104000000"  # 兴庆区
SHEETS: dict[str, list[list[Any]]] = {
    UNITS: [
        ["640104001001", "丽景社区", "村级", "640104001000"],  # before its parent: any order
        ["640104001000", "凤凰北街街道", "5", XQ],
        ["640104400000", "掌政镇", "乡级", XQ],
        ["640104400201", "强家庙村", "6", "640104400000"],
    ],
    DEPARTMENTS: [["640104001000", "MZ", "民政办"], [XQ, "GA", "公安分局"]],
    HALLS: [["640104001000", "便民服务中心"], ["640104001001", "社区服务站"]],
    WINDOWS: [
        ["640104001000", "便民服务中心", "01", "综合窗口", None],
        ["640104001000", "便民服务中心", "02", "民政窗口", "MZ"],
        ["640104001001", "社区服务站", "01", "代办窗口", None],
    ],
}


def workbook(sheets: dict[str, list[list[Any]]]) -> bytes:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        sheet.append([c.header for c in COLUMNS[name]])
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def counts(engine: sa.Engine) -> tuple[int, int, int, int]:
    with Session(engine) as s:
        return tuple(  # type: ignore[return-value]
            int(s.exec(select(func.count()).select_from(t)).one())
            for t in (OrgUnit, Department, Hall, Window)
        )


def summary(result: Any) -> dict[str, tuple[int, int, int]]:
    return {k: (c.created, c.updated, c.unchanged) for k, c in result.counts.items()}


def test_lower_levels_import_and_reimport_changes_nothing(engine: sa.Engine) -> None:
    before = counts(engine)
    with Session(engine) as s:
        result = import_org(s, region_scope(s), workbook(SHEETS))
        assert result.issues == []
        assert summary(result) == {
            UNITS: (4, 0, 0),
            DEPARTMENTS: (2, 0, 0),
            HALLS: (2, 0, 0),
            WINDOWS: (3, 0, 0),
        }
        s.commit()
    assert counts(engine) == (before[0] + 4, before[1] + 2, 2, 3)
    with Session(engine) as s:
        xq, village = unit_by_code(s, XQ), unit_by_code(s, "640104001001")
        assert xq is not None
        assert village is not None
        assert village.level == 6
        assert village.path.startswith(xq.path)
        window = s.exec(select(Window).where(Window.name == "民政窗口")).one()
        dept = s.get(Department, window.department_id)
        assert dept is not None
        assert dept.code == "MZ"
        again = import_org(s, region_scope(s), workbook(SHEETS))
        assert summary(again) == {
            UNITS: (0, 0, 4),
            DEPARTMENTS: (0, 0, 2),
            HALLS: (0, 0, 2),
            WINDOWS: (0, 0, 3),
        }
        s.commit()
    renamed = {**SHEETS, UNITS: [*SHEETS[UNITS][:2], ["640104400000", "掌政镇（新）", "5", XQ]], WINDOWS: []}
    with Session(engine) as s:
        result = import_org(s, region_scope(s), workbook(renamed))
        assert summary(result)[UNITS] == (0, 1, 2)
        s.commit()
        assert s.exec(select(OrgUnit.name).where(OrgUnit.code == "640104400000")).one() == "掌政镇（新）"
    assert counts(engine) == (before[0] + 4, before[1] + 2, 2, 3)


def test_every_problem_is_reported_and_nothing_imported(engine: sa.Engine) -> None:
    before = counts(engine)
    bad: dict[str, list[list[Any]]] = {
        UNITS: [
            *SHEETS[UNITS],
            ["12345", "短编码", "5", XQ],  # 6
            ["640104500000", "层级不对", "6", XQ],  # 7
            ["640104600000", "无上级", "5", "640104999000"],  # 8
            ["640104400000", "重复", "5", XQ],  # 9
            [XQ, "兴庆区", "4", "640200000000"],  # 10: would move
            ["640104700000", "", "5", XQ],  # 11: no name
        ],
        DEPARTMENTS: [["640104001000", "mz", "小写"], ["640199000000", "MZ", "无此单位"]],
        HALLS: [["640104001000", "便民服务中心"], ["640104001000", "便民服务中心"]],
        WINDOWS: [
            ["640104001000", "无此大厅", "01", "窗口", None],
            ["640104001000", "便民服务中心", "01", "窗口", "NOSUCH"],
            ["640104001000", "便民服务中心", "02", "窗口", None],
            ["640104001000", "便民服务中心", "02", "窗口", None],
        ],
    }
    with Session(engine) as s:
        result = import_org(s, region_scope(s), workbook(bad))
        s.rollback()
    got = [(i.sheet, i.row, i.column[0]) for i in result.issues]
    assert got == [
        (UNITS, 6, "A"), (UNITS, 7, "C"), (UNITS, 8, "D"), (UNITS, 9, "A"), (UNITS, 10, "D"), (UNITS, 11, "B"),
        (DEPARTMENTS, 2, "B"), (DEPARTMENTS, 3, "A"), (HALLS, 3, "B"),
        (WINDOWS, 2, "B"), (WINDOWS, 3, "E"), (WINDOWS, 5, "C"),
    ]  # fmt: skip
    reasons = [i.reason for i in result.issues]
    assert reasons[1] == "层级应为 5（上级单位 640104000000 为 4 级）"
    assert reasons[2] == "上级单位 640104999000 不存在或不在您的管辖范围内"
    assert "导入不能移动单位" in reasons[4]
    assert counts(engine) == before


def test_reach_and_csv(engine: sa.Engine) -> None:
    with Session(engine) as s:
        xixia = unit_by_code(s, "640105000000")
        assert xixia is not None
        county_admin = Scope(0, frozenset({Role.CENTER_ADMIN}), xixia.id or 0, xixia.path, None)
        result = import_org(s, county_admin, workbook({UNITS: SHEETS[UNITS]}))
        assert [(i.row, i.reason) for i in result.issues][1] == (
            3,
            f"上级单位 {XQ} 不存在或不在您的管辖范围内",
        )
        s.rollback()
        seed = import_org(s, region_scope(s), ningxia_csv().encode())
        assert summary(seed)[UNITS] == (0, 0, 28)
        lower = "code,name,level,parent_code\n640105001000,宁华路街道,5,640105000000\n640105001001,社区,6,640105001000\n"
        assert summary(import_org(s, county_admin, lower.encode()))[UNITS] == (2, 0, 0)
        s.commit()
        assert s.exec(select(func.count()).select_from(OrgUnit).where(col(OrgUnit.level) == 6)).one() == 1
        bad = import_org(s, county_admin, b"code,name\n1,2\n")
        assert bad.issues[0].reason == "CSV 表头应为 code,name,level,parent_code"
        assert import_org(s, county_admin, b"\xff\xfe").issues[0].reason == "CSV 文件须为 UTF-8 编码"
