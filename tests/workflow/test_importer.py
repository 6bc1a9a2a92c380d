"""The catalog workbook: 500 items with 3 planted errors → exactly those 3, nothing imported; the clean file
imports, exports and re-imports identically; units and departments outside the scope are refused by row."""

from __future__ import annotations

import io
from typing import Any

import openpyxl
import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from tests.workflow.conftest import region_scope
from workflow import xlsx
from workflow.catalog import CatalogItem, ItemContent, Material
from workflow.codes import Level, Role
from workflow.importer import export_records, import_workbook
from workflow.org import OrgUnit, unit_by_code
from workflow.scope import Scope
from workflow.xlsx import Issue, ItemRecord

COUNTIES = [
    "640104000000", "640105000000", "640106000000", "640121000000", "640122000000", "640181000000",
    "640202000000", "640205000000", "640221000000", "640302000000", "640303000000",
]  # fmt: skip


def records(n: int) -> list[ItemRecord]:
    out = []
    for i in range(n):
        c = ItemContent(
            name=f"事项{i:04d}（个体工商户登记）", item_type="01" if i % 3 else "20", level=Level.COUNTY,
            body_nature="1", handling_office="登记注册科", legal_basis=f"《条例》第{i % 40 + 1}条",
            conditions="申请人具有完全民事行为能力", process="受理→审核→审批→办结", statutory_limit=20,
            promised_limit=i % 10, promised_limit_note="自受理之日起计算" if i % 2 else "", fee="" if i % 4 else "50元/件",
            location="兴庆区政务服务中心二楼", hours="周一至周五 9:00-17:00", consultation="0951-1234567",
            supervision="12345", service_objects=["1", "2"] if i % 2 else ["2"], channels=["1", "2", "4"],
            appointment=bool(i % 2), online_payment=not i % 5, results="营业执照",
            materials=[
                Material(name="申请书", issuer="申请人", originals=1, copies=0, required=True, blank_form="申请书.docx"),
                Material(name="身份证明", issuer="公安机关", originals=1, copies=1, required=bool(i % 2)),
            ][: 1 + i % 2],
        )  # fmt: skip
        out.append(ItemRecord(f"11640{i:06d}XK", f"0001{i:04d}", COUNTIES[i % len(COUNTIES)], "SCJG", c))
    return out


def cells(data: bytes) -> dict[str, list[tuple[Any, ...]]]:
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    try:
        return {name: list(book[name].iter_rows(values_only=True)) for name in book.sheetnames}
    finally:
        book.close()


def plant(data: bytes, changes: list[tuple[str, int, str, Any]]) -> bytes:
    book = openpyxl.load_workbook(io.BytesIO(data))
    for sheet, row, header, value in changes:
        index = [c.header for c in xlsx.COLUMNS[sheet]].index(header) + 1
        book[sheet].cell(row=row, column=index).value = value
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def item_count(engine: sa.Engine) -> int:
    with Session(engine) as s:
        return int(s.exec(select(func.count()).select_from(CatalogItem)).one())


def test_500_items_with_3_planted_errors(engine: sa.Engine) -> None:
    clean = xlsx.write(records(500))
    bad = plant(
        clean,
        [
            (xlsx.CATALOG, 101, "事项名称", None),
            (xlsx.DETAILS, 251, "法定办结时限", "十五"),
            (xlsx.MATERIALS, 400, "是否必要", "可能"),
        ],
    )
    with Session(engine) as s:
        result = import_workbook(s, region_scope(s), bad)
        s.rollback()
    assert result.issues == [
        Issue(xlsx.CATALOG, 101, "C（事项名称）", "必填项为空"),
        Issue(xlsx.DETAILS, 251, "H（法定办结时限）", "“十五”不是非负整数"),
        Issue(xlsx.MATERIALS, 400, "G（是否必要）", "应填“是”或“否”，实为“可能”"),
    ]
    assert item_count(engine) == 0


def test_clean_file_imports_exports_and_reimports_identically(engine: sa.Engine) -> None:
    original = records(500)
    data = xlsx.write(original)
    with Session(engine) as s:
        result = import_workbook(s, region_scope(s), data)
        assert result.issues == []
        assert (result.created, result.updated, result.unchanged) == (500, 0, 0)
        s.commit()
    with Session(engine) as s:
        exported = xlsx.write(export_records(s, region_scope(s)))
    by_code = sorted(original, key=lambda r: r.implementation_code)
    assert xlsx.read(exported) == (by_code, [])
    assert cells(exported) == cells(xlsx.write(by_code))
    with Session(engine) as s:
        again = import_workbook(s, region_scope(s), exported)
        assert (again.issues, again.created, again.updated, again.unchanged) == ([], 0, 0, 500)
        s.commit()
        assert cells(xlsx.write(export_records(s, region_scope(s)))) == cells(exported)
    assert item_count(engine) == 500


def test_changed_rows_become_new_drafts(engine: sa.Engine) -> None:
    recs = records(3)
    with Session(engine) as s:
        import_workbook(s, region_scope(s), xlsx.write(recs))
        s.commit()
    recs[1].content.promised_limit = 9
    with Session(engine) as s:
        result = import_workbook(s, region_scope(s), xlsx.write(recs))
        assert (result.created, result.updated, result.unchanged) == (0, 1, 2)


def test_units_and_departments_outside_scope_are_reported_by_row(engine: sa.Engine) -> None:
    recs = records(4)
    recs[1].unit_code = "640999000000"
    recs[2].department_code = "GA"
    recs[3].unit_code = "640105000000"  # 西夏区: outside a 兴庆区 scope
    with Session(engine) as s:
        xingqing = unit_by_code(s, "640104000000")
        assert xingqing is not None
        scope = Scope(0, frozenset({Role.CENTER_ADMIN}), xingqing.id or 0, xingqing.path, None)
        recs[0].unit_code = recs[2].unit_code = "640104000000"
        result = import_workbook(s, scope, xlsx.write(recs))
        assert [(i.row, i.column) for i in result.issues] == [
            (3, "F（实施主体编码）"), (4, "H（部门编码）"), (5, "F（实施主体编码）"),
        ]  # fmt: skip
        assert "640999000000" in result.issues[0].reason
        s.rollback()
        assert s.exec(select(func.count()).select_from(CatalogItem)).one() == 0
        assert s.exec(select(func.count()).select_from(OrgUnit).where(col(OrgUnit.level) == 4)).one() == 22


def test_structure_problems() -> None:
    assert xlsx.read(b"not a workbook")[1][0].reason.startswith("不是有效的 xlsx 文件")
    book = openpyxl.Workbook()
    book.active.title = xlsx.CATALOG
    book.active.append(["实施编码", "名称"])
    out = io.BytesIO()
    book.save(out)
    recs, issues = xlsx.read(out.getvalue())
    assert recs == []
    assert Issue(xlsx.DETAILS, 0, "", "缺少工作表") in issues
    assert Issue(xlsx.MATERIALS, 0, "", "缺少工作表") in issues


def test_duplicates_and_orphans() -> None:
    recs = records(2)
    data = plant(
        xlsx.write(recs),
        [
            (xlsx.CATALOG, 3, "实施编码", recs[0].implementation_code),
            (xlsx.MATERIALS, 2, "实施编码", "NO-SUCH-ITEM"),
            (xlsx.DETAILS, 2, "服务对象", "1;7"),
            (xlsx.CATALOG, 2, "事项类型", "行政许可"),  # a name instead of the code is fine
        ],
    )
    _, issues = xlsx.read(data)
    # row 3 of 事项目录 now repeats item 0's code, so item 1's details and materials have no item any more
    assert [(i.sheet, i.row, i.column) for i in issues] == [
        (xlsx.CATALOG, 3, "A（实施编码）"),
        (xlsx.DETAILS, 2, "T（服务对象）"),
        (xlsx.DETAILS, 3, "A（实施编码）"),
        (xlsx.MATERIALS, 2, "A（实施编码）"),
        (xlsx.MATERIALS, 3, "A（实施编码）"),
        (xlsx.MATERIALS, 4, "A（实施编码）"),
    ]
    assert "重复" in issues[0].reason
    assert "“7”不是有效的代码" in issues[1].reason
