"""Import and export of the catalog workbook, within a :class:`~workflow.scope.Scope`.

Import is all or nothing: the workbook is read and checked completely (cells, codes, units and departments
within the importer's scope, items that belong elsewhere) and changes nothing if any problem is found. A new
implementation code creates an item with a draft; a known one gets its open draft overwritten, or a new draft
when its content differs from the latest version (identical content changes nothing). Publishing stays a
separate, deliberate step. The optional sheet of staff per process step is checked and applied by
:mod:`workflow.staffing` in the same all-or-nothing pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from openpyxl.utils import get_column_letter
from sqlmodel import Session, col, select

from workflow import staffing, xlsx
from workflow.catalog import CatalogItem, ItemVersion, VersionStatus, create_item, new_draft, update_draft
from workflow.org import Department, OrgUnit
from workflow.process import copy_template
from workflow.scope import Scope
from workflow.xlsx import Issue, ItemRecord, StaffRow


@dataclass
class ImportResult:
    issues: list[Issue] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    staff_changed: int = 0
    """Items whose staff per process step changed (counted in ``updated``, not ``unchanged``)."""


def _column(key: str) -> str:
    cols = xlsx.COLUMNS[xlsx.CATALOG]
    i = next(i for i, c in enumerate(cols) if c.key == key)
    return f"{get_column_letter(i + 1)}（{cols[i].header}）"


def import_workbook(session: Session, scope: Scope, data: bytes) -> ImportResult:
    """Check and apply ``data``; the caller commits when ``issues`` is empty (nothing is written otherwise)."""
    book = xlsx.read_book(data)
    records, issues = book.records, book.issues
    if issues:
        return ImportResult(issues)
    units = {u.code: u for u in session.exec(scope.select(OrgUnit))}
    depts = {(d.unit_id, d.code): d for d in session.exec(scope.select(Department))}
    codes = [r.implementation_code for r in records]
    existing = {
        i.implementation_code: i
        for i in session.exec(select(CatalogItem).where(col(CatalogItem.implementation_code).in_(codes)))
    }
    visible = set(session.exec(scope.restrict(select(col(CatalogItem.id)), CatalogItem)))
    processes = staffing.latest(session, [i.id for i in existing.values() if i.id is not None])
    targets: dict[str, staffing.Target] = {}
    placed: list[tuple[ItemRecord, int, int]] = []
    for rec in records:
        unit = units.get(rec.unit_code)
        if unit is None:
            issues.append(
                Issue(
                    xlsx.CATALOG,
                    rec.row,
                    _column("unit_code"),
                    f"单位 {rec.unit_code} 不存在或不在您的管辖范围内",
                )
            )
            continue
        assert unit.id is not None
        dept = depts.get((unit.id, rec.department_code))
        if dept is None or dept.id is None:
            issues.append(
                Issue(
                    xlsx.CATALOG,
                    rec.row,
                    _column("department_code"),
                    f"部门 {rec.department_code} 在该单位不存在或不在您的管辖范围内",
                )
            )
            continue
        item = existing.get(rec.implementation_code)
        if item is not None and item.id not in visible:
            issues.append(
                Issue(
                    xlsx.CATALOG, rec.row, _column("implementation_code"), "该实施编码已被其他单位或部门使用"
                )
            )
        elif item is not None and (item.unit_id, item.department_id) != (unit.id, dept.id):
            issues.append(
                Issue(xlsx.CATALOG, rec.row, _column("unit_code"), "导入不能变更事项的实施主体或部门")
            )
        else:
            placed.append((rec, unit.id, dept.id))
            template = processes[item.id or 0][1] if item is not None else None
            targets[rec.implementation_code] = staffing.Target(unit, rec.department_code, template)
    wanted: dict[str, set[staffing.Assignment]] = {}
    if book.staff is not None:
        staff_issues, wanted = staffing.check(session, scope, book.staff, targets)
        issues.extend(staff_issues)
    if issues:
        return ImportResult(xlsx.ordered(issues))
    result = ImportResult()
    item_ids: dict[str, int] = {}
    unchanged: set[str] = set()
    for rec, unit_id, dept_id in placed:
        item = existing.get(rec.implementation_code)
        if item is None:
            item, _ = create_item(
                session, rec.implementation_code, rec.basic_code, unit_id, dept_id, rec.content
            )
            item_ids[rec.implementation_code] = item.id or 0
            result.created += 1
            continue
        item_ids[rec.implementation_code] = item.id or 0
        assert item.id is not None
        latest = _latest(session, item.id)
        if latest.parsed() == rec.content and item.basic_code == rec.basic_code:
            unchanged.add(rec.implementation_code)
            continue
        item.basic_code = rec.basic_code
        session.add(item)
        if latest.status == VersionStatus.DRAFT:
            update_draft(session, latest, rec.content)
        else:
            draft = new_draft(session, item.id, rec.content)
            copy_template(session, latest.id or 0, draft.id or 0)
        result.updated += 1
    if book.staff is not None:
        staffed = staffing.apply(session, item_ids, wanted)
        result.staff_changed = len(staffed)
        result.updated += len(staffed & unchanged)
        unchanged -= staffed
    result.unchanged = len(unchanged)
    return result


def _latest(session: Session, item_id: int) -> ItemVersion:
    stmt = select(ItemVersion).where(ItemVersion.item_id == item_id).order_by(col(ItemVersion.number).desc())
    found = session.exec(stmt).first()
    assert found is not None  # every item has a version
    return found


def export_records(session: Session, scope: Scope) -> list[ItemRecord]:
    """The latest version of every item within ``scope``, ordered by implementation code."""
    stmt = scope.select(CatalogItem).order_by(col(CatalogItem.implementation_code))
    items = list(session.exec(stmt))
    units = {u.id: u.code for u in session.exec(select(OrgUnit))}
    depts = {d.id: d.code for d in session.exec(select(Department))}
    latest: dict[int, ItemVersion] = {}
    ids = [i.id for i in items]
    for v in session.exec(
        select(ItemVersion).where(col(ItemVersion.item_id).in_(ids)).order_by(col(ItemVersion.number))
    ):
        latest[v.item_id] = v
    return [
        ItemRecord(
            i.implementation_code,
            i.basic_code,
            units[i.unit_id],
            depts[i.department_id],
            latest[i.id].parsed(),
        )
        for i in items
        if i.id is not None
    ]


def export_staff(session: Session, scope: Scope) -> list[StaffRow]:
    """The staff per process step of the latest version of every item within ``scope``."""
    stmt = scope.select(CatalogItem).order_by(col(CatalogItem.implementation_code))
    return staffing.export_rows(session, list(session.exec(stmt)))
