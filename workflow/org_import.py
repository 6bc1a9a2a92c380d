"""Import of the lower levels of the organisation: units, departments, halls and windows from a workbook or CSV.

Workbook sheets (any of them; header in row 1, order of columns fixed):

    单位   单位编码* (12 digits), 单位名称*, 层级* (3 市级 … 6 村级, code or name), 上级单位编码*
    部门   单位编码*, 部门编码* (line code, e.g. SCJG), 部门名称*
    大厅   单位编码*, 大厅名称*
    窗口   单位编码*, 大厅名称*, 窗口号*, 窗口名称*, 部门编码

A CSV holds units only, with the seed's columns ``code,name,level,parent_code``.

Everything is checked before anything changes, and each problem is reported by sheet, row, column and reason:
codes and names, a parent that exists (in the database or in the sheet, in any order) one level up and within
the importer's reach, units that would move, duplicates, halls, windows and departments that name a unit, hall
or department that does not exist. With any problem nothing is imported. Rows already in the database are left
as they are (names are updated), so importing the same file again changes nothing.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, select

from workflow import xlsx
from workflow.codes import Level
from workflow.org import Department, Hall, OrgUnit, Window, add_unit
from workflow.scope import Scope
from workflow.xlsx import Column, Issue, Sheet

UNITS, DEPARTMENTS, HALLS, WINDOWS = "单位", "部门", "大厅", "窗口"
COLUMNS: dict[str, tuple[Column, ...]] = {
    UNITS: (
        Column("code", "单位编码", required=True),
        Column("name", "单位名称", required=True),
        Column("level", "层级", "code", True, Level),
        Column("parent_code", "上级单位编码"),
    ),
    DEPARTMENTS: (
        Column("unit_code", "单位编码", required=True),
        Column("code", "部门编码", required=True),
        Column("name", "部门名称", required=True),
    ),
    HALLS: (Column("unit_code", "单位编码", required=True), Column("name", "大厅名称", required=True)),
    WINDOWS: (
        Column("unit_code", "单位编码", required=True),
        Column("hall", "大厅名称", required=True),
        Column("number", "窗口号", required=True),
        Column("name", "窗口名称", required=True),
        Column("department_code", "部门编码"),
    ),
}
CSV_HEADER = ("code", "name", "level", "parent_code")
_UNIT_CODE = re.compile(r"\d{12}")
_DEPT_CODE = re.compile(r"[A-Z0-9_]{1,32}")


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class OrgImportResult:
    issues: list[Issue] = field(default_factory=list)
    counts: dict[str, Counts] = field(default_factory=lambda: {name: Counts() for name in COLUMNS})


def read(data: bytes) -> tuple[dict[str, Sheet], list[Issue]]:
    """The sheets of a workbook, or the 单位 sheet of a CSV (told apart by the zip signature)."""
    if data[:4] == b"PK\x03\x04":
        sheets, issues = xlsx.load(data, COLUMNS, frozenset(COLUMNS))
        if not sheets and not issues:
            issues.append(Issue("", 0, "", f"工作簿中没有以下任何工作表：{'、'.join(COLUMNS)}"))
        return sheets, issues
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return {}, [Issue("", 0, "", "CSV 文件须为 UTF-8 编码")]
    rows: list[tuple[Any, ...]] = [tuple(r) for r in csv.reader(io.StringIO(text))]
    if not rows or tuple(c.strip() for c in rows[0][:4]) != CSV_HEADER:
        return {}, [Issue(UNITS, 1, "", f"CSV 表头应为 {','.join(CSV_HEADER)}")]
    header = tuple(c.header for c in COLUMNS[UNITS])
    found: list[Issue] = []
    return {UNITS: Sheet(UNITS, [header, *rows[1:]], found, COLUMNS[UNITS])}, found


class _Plan:
    """Checks every row against the database and the other rows; remembers what to write."""

    def __init__(self, session: Session, scope: Scope, sheets: dict[str, Sheet]) -> None:
        self.session, self.scope, self.sheets = session, scope, sheets
        self.units = {u.code: u for u in session.exec(select(OrgUnit))}
        self.by_id = {u.id: u for u in self.units.values()}
        self.reach = {u.code for u in self.units.values() if u.path.startswith(scope.unit_path)}
        self.new_units: dict[str, tuple[int, dict[str, Any]]] = {}
        self.renamed: dict[str, str] = {}
        self.unchanged_units = 0
        self.depts = {(d.unit_id, d.code): d for d in session.exec(select(Department))}
        self.halls = {(h.unit_id, h.name): h for h in session.exec(select(Hall))}
        self.windows = {(w.hall_id, w.number): w for w in session.exec(select(Window))}
        self.new_depts: dict[tuple[str, str], str] = {}
        self.new_halls: set[tuple[str, str]] = set()
        self.window_rows: list[dict[str, Any]] = []

    def check_units(self) -> None:
        sheet = self.sheets.get(UNITS)
        if sheet is None:
            return
        seen: dict[str, int] = {}
        rows: dict[str, tuple[int, dict[str, Any]]] = {}
        for number, v in sheet.rows:
            if number in sheet.bad_rows:
                continue
            code = v["code"]
            if not _UNIT_CODE.fullmatch(code):
                sheet.issue(number, 0, f"单位编码“{code}”应为 12 位数字")
            elif code in seen:
                sheet.issue(number, 0, f"单位编码 {code} 重复（已见于第 {seen[code]} 行）")
            elif len(v["name"]) > 64:
                sheet.issue(number, 1, "单位名称超过 64 个字")
            else:
                seen[code] = number
                rows[code] = (number, v)
        for code, (number, v) in rows.items():
            existing = self.units.get(code)
            if existing is not None:
                self._known_unit(sheet, number, v, existing)
            else:
                self._new_unit(sheet, number, v, rows)

    def _known_unit(self, sheet: Sheet, number: int, v: dict[str, Any], unit: OrgUnit) -> None:
        if unit.code not in self.reach:
            sheet.issue(number, 0, f"单位编码 {unit.code} 已被使用（不在您的管辖范围内）")
            return
        parent = self.by_id.get(unit.parent_id)
        if (parent.code if parent else "") != v["parent_code"]:
            sheet.issue(
                number,
                3,
                f"单位 {unit.code} 已存在，上级为 {parent.code if parent else '（无）'}；导入不能移动单位",
            )
        elif unit.level != int(v["level"]):
            sheet.issue(number, 2, f"单位 {unit.code} 已存在，层级为 {unit.level}")
        elif unit.name != v["name"]:
            self.renamed[unit.code] = v["name"]
        else:
            self.unchanged_units += 1

    def _new_unit(
        self, sheet: Sheet, number: int, v: dict[str, Any], rows: dict[str, tuple[int, dict[str, Any]]]
    ) -> None:
        level, parent_code = int(v["level"]), v["parent_code"]
        chain = {v["code"]}
        ancestor = parent_code
        while ancestor in rows and ancestor not in self.units:  # up through new units to a known one
            if ancestor in chain:
                sheet.issue(number, 3, "上级单位之间形成循环")
                return
            chain.add(ancestor)
            ancestor = rows[ancestor][1]["parent_code"]
        if not parent_code or ancestor not in self.reach:
            sheet.issue(number, 3, f"上级单位 {parent_code or '（空）'} 不存在或不在您的管辖范围内")
            return
        parent_level = (
            self.units[parent_code].level if parent_code in self.units else int(rows[parent_code][1]["level"])
        )
        if level != parent_level + 1:
            sheet.issue(
                number, 2, f"层级应为 {parent_level + 1}（上级单位 {parent_code} 为 {parent_level} 级）"
            )
            return
        self.new_units[v["code"]] = (number, v)

    def _place(self, sheet: Sheet, number: int, code: str) -> bool:
        """``code`` names a unit within reach or one this import creates; otherwise report it."""
        if code in self.reach or code in self.new_units:
            return True
        sheet.issue(number, 0, f"单位 {code} 不存在或不在您的管辖范围内")
        return False

    def _unit_id(self, code: str) -> int | None:
        unit = self.units.get(code)
        return unit.id if unit is not None else None

    def check_departments(self) -> None:
        sheet = self.sheets.get(DEPARTMENTS)
        for number, v in _good(sheet):
            assert sheet is not None
            key = (v["unit_code"], v["code"])
            if not self._place(sheet, number, v["unit_code"]):
                continue
            if not _DEPT_CODE.fullmatch(v["code"]):
                sheet.issue(number, 1, f"部门编码“{v['code']}”只能由大写字母、数字和下划线组成（至多 32 个）")
            elif key in self.new_depts:
                sheet.issue(number, 1, f"部门编码 {v['code']} 在该单位重复")
            elif len(v["name"]) > 64:
                sheet.issue(number, 2, "部门名称超过 64 个字")
            else:
                self.new_depts[key] = v["name"]

    def has_department(self, unit_code: str, code: str) -> bool:
        unit_id = self._unit_id(unit_code)
        return (unit_code, code) in self.new_depts or (unit_id is not None and (unit_id, code) in self.depts)

    def has_hall(self, unit_code: str, name: str) -> bool:
        unit_id = self._unit_id(unit_code)
        return (unit_code, name) in self.new_halls or (unit_id is not None and (unit_id, name) in self.halls)

    def check_halls(self) -> None:
        sheet = self.sheets.get(HALLS)
        for number, v in _good(sheet):
            assert sheet is not None
            if not self._place(sheet, number, v["unit_code"]):
                continue
            key = (v["unit_code"], v["name"])
            if key in self.new_halls:
                sheet.issue(number, 1, f"大厅“{v['name']}”在该单位重复")
            elif len(v["name"]) > 64:
                sheet.issue(number, 1, "大厅名称超过 64 个字")
            else:
                self.new_halls.add(key)

    def check_windows(self) -> None:
        sheet = self.sheets.get(WINDOWS)
        seen: set[tuple[str, str, str]] = set()
        for number, v in _good(sheet):
            assert sheet is not None
            if not self._place(sheet, number, v["unit_code"]):
                continue
            key = (v["unit_code"], v["hall"], v["number"])
            if not self.has_hall(v["unit_code"], v["hall"]):
                sheet.issue(number, 1, f"大厅“{v['hall']}”在单位 {v['unit_code']} 不存在")
            elif key in seen:
                sheet.issue(number, 2, f"窗口号 {v['number']} 在该大厅重复")
            elif len(v["number"]) > 16 or len(v["name"]) > 64:
                sheet.issue(
                    number, 2 if len(v["number"]) > 16 else 3, "窗口号至多 16 个字，窗口名称至多 64 个字"
                )
            elif v["department_code"] and not self.has_department(v["unit_code"], v["department_code"]):
                sheet.issue(number, 4, f"部门 {v['department_code']} 在单位 {v['unit_code']} 不存在")
            else:
                seen.add(key)
                self.window_rows.append(v)

    def write(self, counts: dict[str, Counts]) -> None:
        """Apply the checked rows: units parents first, then departments, halls and windows."""
        session = self.session
        pending = dict(self.new_units)
        while pending:
            before = len(pending)
            for code, (_, v) in list(pending.items()):
                parent = self.units.get(v["parent_code"])
                if parent is not None:
                    self.units[code] = add_unit(session, code, v["name"], Level(int(v["level"])), parent)
                    del pending[code]
            assert len(pending) < before, "every new unit's chain of parents was checked"
        for code, name in self.renamed.items():
            self.units[code].name = name
            session.add(self.units[code])
        counts[UNITS] = Counts(len(self.new_units), len(self.renamed), self.unchanged_units)
        for (unit_code, code), name in self.new_depts.items():
            unit_id = self.units[unit_code].id or 0
            dept = self.depts.setdefault((unit_id, code), Department(unit_id=unit_id, code=code, name=name))
            _apply(session, counts[DEPARTMENTS], dept, {"name": name})
        for unit_code, name in sorted(self.new_halls):
            unit_id = self.units[unit_code].id or 0
            _apply(
                session,
                counts[HALLS],
                self.halls.setdefault((unit_id, name), Hall(unit_id=unit_id, name=name)),
                {},
            )
        session.flush()
        for v in self.window_rows:
            unit_id = self.units[v["unit_code"]].id or 0
            hall_id = self.halls[(unit_id, v["hall"])].id or 0
            line = self.depts.get((unit_id, v["department_code"])) if v["department_code"] else None
            changes = {"name": v["name"], "department_id": line.id if line else None}
            window = self.windows.setdefault(
                (hall_id, v["number"]), Window(hall_id=hall_id, unit_id=unit_id, number=v["number"], name="")
            )
            _apply(session, counts[WINDOWS], window, changes)
        session.flush()


def _good(sheet: Sheet | None) -> list[tuple[int, dict[str, Any]]]:
    return [] if sheet is None else [(n, v) for n, v in sheet.rows if n not in sheet.bad_rows]


def _apply(session: Session, counts: Counts, row: Any, changes: dict[str, Any]) -> None:
    """Count ``row`` as created (no id yet), updated (``changes`` differ) or unchanged, and write ``changes``."""
    if row.id is None:
        counts.created += 1
    elif any(getattr(row, k) != value for k, value in changes.items()):
        counts.updated += 1
    else:
        counts.unchanged += 1
        return
    for k, value in changes.items():
        setattr(row, k, value)
    session.add(row)


def import_org(session: Session, scope: Scope, data: bytes) -> OrgImportResult:
    """Check and apply ``data``; the caller commits when ``issues`` is empty (nothing is written otherwise)."""
    sheets, issues = read(data)
    if not sheets:
        return OrgImportResult(xlsx.ordered(issues, list(COLUMNS)))
    plan = _Plan(session, scope, sheets)
    plan.check_units()
    plan.check_departments()
    plan.check_halls()
    plan.check_windows()
    if issues:
        return OrgImportResult(xlsx.ordered(issues, list(COLUMNS)))
    result = OrgImportResult()
    plan.write(result.counts)
    return result
