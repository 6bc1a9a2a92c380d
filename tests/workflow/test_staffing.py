"""Staff per process step (附件1 表2) in the catalog workbook: items round-trip with their staff; unknown
employee numbers, roles the step does not take and people outside the item's unit subtree are reported by
sheet, row, column and reason, and then nothing is imported."""

from __future__ import annotations

import datetime as dt
import io
import time
from typing import Any

import openpyxl
import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from tests.workflow.conftest import region_scope
from tests.workflow.test_importer import cells, plant, records
from workflow import catalog, process, xlsx
from workflow.catalog import ItemVersion
from workflow.codes import Role
from workflow.importer import export_records, export_staff, import_workbook
from workflow.org import Department, unit_by_code
from workflow.process import StepStaff
from workflow.scope import Scope
from workflow.staff import Staff, join_roles
from workflow.xlsx import Issue, ItemRecord, StaffRow

STEPS = [  # key, name, role, time limit
    ("accept", "受理", Role.CLERK, 0),
    ("review", "审核", Role.REVIEWER, 1),
    ("approve", "审批", Role.APPROVER, 0),
    ("done", "办结", Role.CLERK, 0),
]
N = 150  # items in the round trip (4 staff rows each); figures for 500 are in docs/organisation-and-catalog.md
KINDS = {"accept": "受理", "review": "审核", "approve": "审批", "done": "办结"}


def definition() -> process.ProcessDefinition:
    steps: list[dict[str, Any]] = []
    for i, (key, name, role, limit) in enumerate(STEPS):
        after = [STEPS[i - 1][0]] if i else []
        steps.append(
            {"key": key, "kind": KINDS[key], "name": name, "role": role, "time_limit": limit, "after": after}
        )
    return process.ProcessDefinition.model_validate({"steps": steps})


def people(session: Session, counties: set[str]) -> dict[tuple[str, Role], Staff]:
    """A clerk, a reviewer and an approver of SCJG in each county; a clerk of GA in 兴庆区."""
    out: dict[tuple[str, Role], Staff] = {}
    for code in sorted(counties):
        unit = unit_by_code(session, code)
        assert unit is not None
        dept = session.exec(select(Department).where(Department.unit_id == unit.id)).one()
        for role in (Role.CLERK, Role.REVIEWER, Role.APPROVER):
            person = Staff(
                employee_no=f"{code[2:6]}{role[:3]}", name=f"{role}@{code[2:6]}", unit_id=unit.id or 0,
                department_id=dept.id, roles=join_roles([role]),
            )  # fmt: skip
            session.add(person)
            out[(code, role)] = person
    session.flush()
    return out


def staff_rows(recs: list[ItemRecord], staff: dict[tuple[str, Role], Staff]) -> list[StaffRow]:
    rows = []
    for rec in sorted(recs, key=lambda r: r.implementation_code):
        for key, name, role, limit in STEPS:
            p = staff[(rec.unit_code, role)]
            row = StaffRow(
                rec.implementation_code, rec.content.name, key, name, p.employee_no, p.name, rec.unit_code, "SCJG",
                str(role), limit,
            )  # fmt: skip
            rows.append(row)
    return rows


def catalog_with_processes(engine: sa.Engine, recs: list[ItemRecord]) -> dict[tuple[str, Role], Staff]:
    """Import ``recs`` (drafts), give each draft the 4-step process, add the staff."""
    with Session(engine, expire_on_commit=False) as s:
        result = import_workbook(s, region_scope(s), xlsx.write(recs))
        assert result.issues == []
        for version in s.exec(select(ItemVersion)):
            process.set_template(s, version, definition())
        staff = people(s, {r.unit_code for r in recs})
        s.commit()
    return staff


def assignment_count(engine: sa.Engine) -> int:
    with Session(engine) as s:
        return int(s.exec(select(func.count()).select_from(StepStaff)).one())


def test_items_with_staff_export_import_identically(engine: sa.Engine) -> None:
    recs = records(N)
    staff = catalog_with_processes(engine, recs)
    rows = staff_rows(recs, staff)
    data = xlsx.write(recs, rows)
    started = time.perf_counter()
    with Session(engine) as s:
        result = import_workbook(s, region_scope(s), data)
        assert result.issues == []
        assert (result.created, result.updated, result.unchanged, result.staff_changed) == (0, N, 0, N)
        s.commit()
    imported = time.perf_counter() - started
    assert assignment_count(engine) == 4 * N
    started = time.perf_counter()
    with Session(engine) as s:
        exported = xlsx.write(export_records(s, region_scope(s)), export_staff(s, region_scope(s)))
    print(
        f"500 items, 2000 staff rows: import {imported:.2f} s, export {time.perf_counter() - started:.2f} s"
    )
    by_code = sorted(recs, key=lambda r: r.implementation_code)
    assert cells(exported) == cells(xlsx.write(by_code, rows))
    book = xlsx.read_book(exported)
    assert (book.records, book.staff, book.issues) == (by_code, rows, [])
    with Session(engine) as s:
        again = import_workbook(s, region_scope(s), exported)
        assert (again.issues, again.updated, again.unchanged, again.staff_changed) == ([], 0, N, 0)
        s.commit()
        assert cells(
            xlsx.write(export_records(s, region_scope(s)), export_staff(s, region_scope(s)))
        ) == cells(exported)
    assert assignment_count(engine) == 4 * N


def test_three_planted_staff_errors_import_nothing(engine: sa.Engine) -> None:
    recs = records(30)
    staff = catalog_with_processes(engine, recs)
    rows = staff_rows(recs, staff)
    recs[0].content.promised_limit = 8  # a change that must not be applied either
    other_county = staff[(recs[1].unit_code, Role.CLERK)]  # recs[0] and recs[1] are in different counties
    bad = plant(
        xlsx.write(recs, rows),
        [
            (xlsx.STAFF, 10, "工号", "NOBODY"),  # item 2, 受理
            (xlsx.STAFF, 19, "角色", "审批"),  # item 4, 审核: the step takes reviewers
            (xlsx.STAFF, 2, "工号", other_county.employee_no),  # item 0, 受理: a clerk of another county
            (xlsx.STAFF, 2, "姓名", other_county.name),
            (xlsx.STAFF, 2, "单位编码", recs[1].unit_code),
        ],
    )
    with Session(engine) as s:
        result = import_workbook(s, region_scope(s), bad)
        s.rollback()
    assert result.issues == [
        Issue(xlsx.STAFF, 2, "G（单位编码）", f"人员所在单位 {recs[1].unit_code} 不在事项实施主体 {recs[0].unit_code} 及其下级范围内"),
        Issue(xlsx.STAFF, 10, "E（工号）", "工号 NOBODY 不存在或不在您的管辖范围内"),
        Issue(xlsx.STAFF, 19, "I（角色）", "该环节应由“审核”（reviewer）办理"),
    ]  # fmt: skip
    assert assignment_count(engine) == 0
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(ItemVersion)).one() == 30


def test_every_other_check(engine: sa.Engine) -> None:
    recs = records(12)
    staff = catalog_with_processes(engine, recs)
    with Session(engine) as s:
        xingqing = unit_by_code(s, "640104000000")
        assert xingqing is not None
        ga = Department(unit_id=xingqing.id or 0, code="GA", name="公安")
        s.add(ga)
        s.flush()
        s.add(
            Staff(
                employee_no="GA01",
                name="公安民警",
                unit_id=xingqing.id or 0,
                department_id=ga.id,
                roles="clerk",
            )
        )
        s.add(Staff(employee_no="ZH01", name="综窗", unit_id=xingqing.id or 0, roles="clerk"))
        s.add(
            Staff(employee_no="OFF1", name="停用", unit_id=xingqing.id or 0, roles="clerk", status="disabled")
        )
        s.commit()
    rows = staff_rows(recs, staff)  # recs[0] is in 兴庆区; rows 2–5 are its steps
    extra = records(13)[12:]  # a new item: no process yet
    extra[0].unit_code = "640104000000"
    new_row = StaffRow(
        extra[0].implementation_code, "", "accept", "", "ZH01", "综窗", "640104000000", "", "clerk", 0
    )
    data = plant(
        xlsx.write([*recs, *extra], [*rows, new_row]),
        [
            (xlsx.STAFF, 2, "工号", "GA01"), (xlsx.STAFF, 2, "姓名", "公安民警"), (xlsx.STAFF, 2, "部门编码", "GA"),
            (xlsx.STAFF, 3, "环节编码", "nosuch"),
            (xlsx.STAFF, 4, "办理时限（工作日）", 5), (xlsx.STAFF, 4, "姓名", "别人"),
            (xlsx.STAFF, 5, "工号", "OFF1"), (xlsx.STAFF, 5, "姓名", "停用"), (xlsx.STAFF, 5, "部门编码", None),
            (xlsx.STAFF, 7, "环节名称", "别的环节"),
            (xlsx.STAFF, 8, "工号", staff[("640104000000", Role.CLERK)].employee_no),
        ],
    )  # fmt: skip
    with Session(engine) as s:
        issues = import_workbook(s, region_scope(s), data).issues
        s.rollback()
    got = [(i.row, i.column[0], i.reason) for i in issues]
    assert got == [
        (2, "H", "该环节由部门 SCJG 办理，人员属于部门 GA"),
        (3, "C", "环节 nosuch 不在该事项的办理流程中（有：accept、review、approve、done）"),
        (4, "F", f"与工号 {rows[2].employee_no} 登记的姓名不一致"),
        (4, "J", "超过该环节的时限 0 个工作日"),
        (5, "E", "人员 OFF1 已停用"),
        (7, "D", "与流程中该环节的名称“审核”不一致"),
        (8, "F", f"与工号 {staff[('640104000000', Role.CLERK)].employee_no} 登记的姓名不一致"),
        (
            8,
            "G",
            f"工号 {staff[('640104000000', Role.CLERK)].employee_no} 登记在单位 640104000000，不是 640105000000",
        ),
        (8, "I", f"人员 {staff[('640104000000', Role.CLERK)].employee_no} 没有“审批”（approver）角色"),
        (len(rows) + 2, "C", "该事项尚未定义办理流程，请先设置流程再分配人员"),
    ]
    # a SCJG department admin of 兴庆区 does not see the GA officer at all
    with Session(engine) as s:
        xingqing = unit_by_code(s, "640104000000")
        assert xingqing is not None
        scope = Scope(0, frozenset({Role.DEPT_ADMIN}), xingqing.id or 0, xingqing.path, "SCJG")
        mine = [r for r in rows if r.unit_code == "640104000000"]
        data = plant(xlsx.write([r for r in recs if r.unit_code == "640104000000"], mine),
                     [(xlsx.STAFF, 2, "工号", "GA01"), (xlsx.STAFF, 3, "工号", "ZH01"), (xlsx.STAFF, 3, "姓名", "综窗"),
                      (xlsx.STAFF, 3, "部门编码", None)])  # fmt: skip
        issues = import_workbook(s, scope, data).issues
        assert [(i.row, i.column[0]) for i in issues] == [
            (2, "E"),
            (3, "I"),
        ]  # ZH01 is seen; 审核 is not a clerk's


def test_new_draft_keeps_staff_and_a_book_without_the_sheet_leaves_it(engine: sa.Engine) -> None:
    recs = records(2)
    staff = catalog_with_processes(engine, recs)
    with Session(engine) as s:
        assert import_workbook(s, region_scope(s), xlsx.write(recs, staff_rows(recs, staff))).issues == []
        for v in s.exec(select(ItemVersion)):
            catalog.publish(s, v, dt.date(2026, 1, 1), None)
        s.commit()
    recs[0].content.promised_limit = 9
    book = openpyxl.load_workbook(io.BytesIO(xlsx.write(recs)))
    del book[xlsx.STAFF]
    out = io.BytesIO()
    book.save(out)
    with Session(engine) as s:
        result = import_workbook(s, region_scope(s), out.getvalue())
        assert (result.issues, result.updated, result.unchanged, result.staff_changed) == ([], 1, 1, 0)
        s.commit()
        templates = s.exec(select(process.ProcessTemplate).order_by(col(process.ProcessTemplate.id))).all()
        assert len(templates) == 3  # the new draft got a copy of the process
        per_template = {t.id: s.exec(select(func.count()).select_from(StepStaff).where(StepStaff.template_id == t.id)).one()
                        for t in templates}  # fmt: skip
        assert list(per_template.values()) == [4, 4, 4]
        exported = export_staff(s, region_scope(s))
        assert exported == staff_rows(recs, staff)


def test_sheet_level_problems() -> None:
    recs = records(2)
    rows = [
        StaffRow(recs[0].implementation_code, recs[0].content.name, "accept", "受理", "A1", "甲", recs[0].unit_code,
                 "SCJG", "clerk", 0),
    ]  # fmt: skip
    data = plant(
        xlsx.write(recs, rows * 6),
        [(xlsx.STAFF, 3, "事项名称", "别的事项"), (xlsx.STAFF, 5, "实施编码", "NO-SUCH"), (xlsx.STAFF, 6, "角色", "受理"),
         (xlsx.STAFF, 6, "工号", "A2"), (xlsx.STAFF, 7, "角色", "保安"), (xlsx.STAFF, 7, "办理时限（工作日）", "一天")],
    )  # fmt: skip
    book = openpyxl.load_workbook(io.BytesIO(data))
    book[xlsx.STAFF].append(next(book[xlsx.STAFF].iter_rows(min_row=2, max_row=2, values_only=True)))
    out = io.BytesIO()
    book.save(out)
    issues = xlsx.read_book(out.getvalue()).issues
    assert [(i.row, i.column[0]) for i in issues] == [
        (3, "B"),
        (4, "E"),
        (5, "A"),
        (7, "I"),
        (7, "J"),
        (8, "E"),
    ]
    assert "事项名称“事项0000（个体工商户登记）”不一致" in issues[0].reason
    assert "重复（已见于第 2 行）" in issues[1].reason


def test_changing_a_draft_process_unassigns_staff_of_changed_steps(engine: sa.Engine) -> None:
    recs = records(1)
    staff = catalog_with_processes(engine, recs)
    with Session(engine) as s:
        assert import_workbook(s, region_scope(s), xlsx.write(recs, staff_rows(recs, staff))).issues == []
        version = s.exec(select(ItemVersion)).one()
        steps = definition().model_dump(mode="json")["steps"]
        steps[1]["role"] = "approver"  # review: now an approver's step
        steps[3]["after"] = ["review"]  # approve is gone
        del steps[2]
        process.set_template(s, version, process.ProcessDefinition.model_validate({"steps": steps}))
        s.commit()
        left = s.exec(select(StepStaff.step_key).order_by(col(StepStaff.step_key))).all()
        assert left == ["accept", "done"]
