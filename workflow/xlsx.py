"""The catalog workbook (附件3 in the plan's terms): its sheets and columns as data, reading and writing.

Sheets, each with a header row and one row per entry:

    事项目录       one row per item: codes, name, type, level, implementing unit and department
    事项梳理内容   one row per item (by 实施编码): legal basis, conditions, time limits, fees, channels, …
    申请材料       one row per material (by 实施编码 and 序号)
    办理环节人员   one row per item, process step and person who handles it (附件1 表2; optional sheet)

Code columns take the code or its Chinese name (``01`` or ``行政许可``); several codes are separated by ``;``.
Yes/no columns take 是/否. :func:`read` reports every problem with sheet, row, column and reason and returns
no records if there is any; :func:`write` produces a workbook that :func:`read` turns back into equal records.
:func:`read_book` also returns the rows of the staff sheet (``None`` when the workbook has no such sheet);
whether those steps and people exist is checked against the database by :mod:`workflow.staffing`.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any

import openpyxl
from openpyxl.utils import get_column_letter
from pydantic import ValidationError

from workflow.catalog import ItemContent, Material
from workflow.codes import BodyNature, Channel, ItemType, Level, Role, ServiceObject, TimeUnit, parse_code

CATALOG, DETAILS, MATERIALS, STAFF = "事项目录", "事项梳理内容", "申请材料", "办理环节人员"
OPTIONAL_SHEETS = frozenset({STAFF})
YES, NO = "是", "否"


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    kind: str = "text"  # text | int | bool | code | codes | choice
    required: bool = False
    codes: type[StrEnum] | type[IntEnum] | None = None
    choices: tuple[str, ...] = ()


_CODE = Column("implementation_code", "实施编码", required=True)
_UNITS = tuple(u.value for u in TimeUnit)

COLUMNS: dict[str, tuple[Column, ...]] = {
    CATALOG: (
        _CODE,
        Column("basic_code", "基本编码", required=True),
        Column("name", "事项名称", required=True),
        Column("item_type", "事项类型", "code", True, ItemType),
        Column("level", "行使层级", "code", True, Level),
        Column("unit_code", "实施主体编码", required=True),
        Column("body_nature", "实施主体性质", "code", True, BodyNature),
        Column("department_code", "部门编码", required=True),
        Column("handling_office", "办理处室"),
        Column("co_departments", "联办机构"),
    ),
    DETAILS: (
        _CODE,
        Column("legal_basis", "设定依据"),
        Column("conditions", "受理条件"),
        Column("process", "办理流程"),
        Column("quantity_limit", "数量限制"),
        Column("intermediary_services", "中介服务"),
        Column("special_procedures", "特别程序"),
        Column("statutory_limit", "法定办结时限", "int", True),
        Column("statutory_limit_unit", "法定时限单位", "choice", True, choices=_UNITS),
        Column("statutory_limit_note", "法定时限说明"),
        Column("promised_limit", "承诺办结时限", "int", True),
        Column("promised_limit_unit", "承诺时限单位", "choice", True, choices=_UNITS),
        Column("promised_limit_note", "承诺时限说明"),
        Column("fee", "收费标准"),
        Column("fee_basis", "收费依据"),
        Column("location", "办理地点"),
        Column("hours", "办理时间"),
        Column("consultation", "咨询方式"),
        Column("supervision", "监督投诉方式"),
        Column("service_objects", "服务对象", "codes", True, ServiceObject),
        Column("channels", "办理形式", "codes", True, Channel),
        Column("appointment", "是否支持预约", "bool", True),
        Column("online_payment", "是否支持网上支付", "bool", True),
        Column("results", "审批结果名称"),
        Column("result_sample", "审批结果样本"),
    ),
    MATERIALS: (
        _CODE,
        Column("seq", "序号", "int", True),
        Column("name", "材料名称", required=True),
        Column("issuer", "出具单位"),
        Column("originals", "原件份数", "int", True),
        Column("copies", "复印件份数", "int", True),
        Column("required", "是否必要", "bool", True),
        Column("blank_form", "空白表格"),
        Column("sample", "示例样表"),
    ),
    STAFF: (
        _CODE,
        Column("item_name", "事项名称"),
        Column("step_key", "环节编码", required=True),
        Column("step_name", "环节名称"),
        Column("employee_no", "工号", required=True),
        Column("staff_name", "姓名", required=True),
        Column("unit_code", "单位编码", required=True),
        Column("department_code", "部门编码"),
        Column("role", "角色", "code", True, Role),
        Column("time_limit", "办理时限（工作日）", "int", True),
    ),
}


@dataclass(frozen=True)
class Issue:
    sheet: str
    row: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"{self.sheet} 第 {self.row} 行 {self.column}：{self.reason}"


@dataclass
class ItemRecord:
    implementation_code: str
    basic_code: str
    unit_code: str
    department_code: str
    content: ItemContent
    row: int = field(default=0, compare=False)


@dataclass
class StaffRow:
    """One row of 办理环节人员: a person who handles a step of an item, and in how many working days."""

    implementation_code: str
    item_name: str
    step_key: str
    step_name: str
    employee_no: str
    staff_name: str
    unit_code: str
    department_code: str
    role: str
    time_limit: int
    row: int = field(default=0, compare=False)


@dataclass
class Book:
    records: list[ItemRecord]
    staff: list[StaffRow] | None
    """``None``: the workbook has no staff sheet (staffing stays as it is)."""
    issues: list[Issue]


class Sheet:
    """Cells of one sheet by header, converted per column, collecting issues."""

    def __init__(
        self,
        name: str,
        rows: list[tuple[Any, ...]],
        issues: list[Issue],
        columns: tuple[Column, ...] | None = None,
    ) -> None:
        self.name, self.issues = name, issues
        self.columns = columns if columns is not None else COLUMNS[name]
        self.rows: list[tuple[int, dict[str, Any]]] = []
        self.bad_rows: set[int] = set()
        header = [str(c).strip() if c is not None else "" for c in (rows[0] if rows else ())]
        expected = [c.header for c in self.columns]
        if header[: len(expected)] != expected:
            for i, want in enumerate(expected):
                got = header[i] if i < len(header) else ""
                if got != want:
                    self.issue(1, i, f"表头应为“{want}”，实为“{got}”")
            return
        for number, raw in enumerate(rows[1:], start=2):
            cells = list(raw[: len(expected)]) + [None] * (len(expected) - len(raw))
            if all(c is None or (isinstance(c, str) and not c.strip()) for c in cells):
                continue
            values: dict[str, Any] = {}
            for i, (col, cell) in enumerate(zip(self.columns, cells, strict=True)):
                try:
                    values[col.key] = _convert(col, cell)
                except ValueError as err:
                    self.issue(number, i, str(err))
            self.rows.append((number, values))

    def issue(self, row: int, index: int, reason: str) -> None:
        self.bad_rows.add(row)
        col = self.columns[index]
        self.issues.append(Issue(self.name, row, f"{get_column_letter(index + 1)}（{col.header}）", reason))

    def index(self, key: str) -> int:
        return next(i for i, c in enumerate(self.columns) if c.key == key)


def _convert(col: Column, cell: Any) -> Any:
    text = "" if cell is None else str(cell).strip()
    if not text:
        if col.required:
            raise ValueError("必填项为空")
        return [] if col.kind == "codes" else ""
    if col.kind == "int":
        if isinstance(cell, bool) or not re.fullmatch(r"\d+(\.0+)?", text):
            raise ValueError(f"“{text}”不是非负整数")
        return int(float(text))
    if col.kind == "bool":
        if text not in (YES, NO):
            raise ValueError(f"应填“{YES}”或“{NO}”，实为“{text}”")
        return text == YES
    if col.kind == "choice":
        if text not in col.choices:
            raise ValueError(f"应为{'或'.join(f'“{c}”' for c in col.choices)}，实为“{text}”")
        return text
    if col.kind == "code":
        assert col.codes is not None
        return parse_code(col.codes, text)
    if col.kind == "codes":
        assert col.codes is not None
        kinds = col.codes
        return [parse_code(kinds, part) for part in re.split(r"[;；、]", text) if part.strip()]
    return text


def ordered(issues: list[Issue], sheets: list[str] | None = None) -> list[Issue]:
    """Issues in workbook order: sheet (as in the template), row, column."""
    sheets = sheets if sheets is not None else list(COLUMNS)
    return sorted(issues, key=lambda i: (sheets.index(i.sheet) if i.sheet in sheets else -1, i.row, i.column))


def read(data: bytes) -> tuple[list[ItemRecord], list[Issue]]:
    """Records of the workbook ``data`` and the problems found; with any problem, no records."""
    book = read_book(data)
    return book.records, book.issues


def load(
    data: bytes, columns: dict[str, tuple[Column, ...]], optional: frozenset[str] = frozenset()
) -> tuple[dict[str, Sheet], list[Issue]]:
    """The sheets named in ``columns`` that ``data`` has, read and converted, and the problems found."""
    issues: list[Issue] = []
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as err:
        return {}, [Issue("", 0, "", f"不是有效的 xlsx 文件（{err}）")]
    try:
        sheets: dict[str, Sheet] = {}
        for name, cols in columns.items():
            if name not in book.sheetnames:
                if name not in optional:
                    issues.append(Issue(name, 0, "", "缺少工作表"))
                continue
            sheets[name] = Sheet(name, list(book[name].iter_rows(values_only=True)), issues, cols)
    finally:
        book.close()
    return sheets, issues


def read_book(data: bytes) -> Book:
    """Records and staff rows of the workbook ``data``, and the problems found; with any problem, neither."""
    sheets, issues = load(data, COLUMNS, OPTIONAL_SHEETS)
    if any(name not in sheets for name in COLUMNS if name not in OPTIONAL_SHEETS):
        return Book([], None, ordered(issues))
    records = _assemble(sheets[CATALOG], sheets[DETAILS], sheets[MATERIALS])
    staff = _staff_rows(sheets[STAFF], sheets[CATALOG]) if STAFF in sheets else None
    return Book([], None, ordered(issues)) if issues else Book(records, staff, [])


def _staff_rows(sheet: Sheet, catalog: Sheet) -> list[StaffRow]:
    names = {v.get("implementation_code"): v.get("name") for _, v in catalog.rows}
    seen: dict[tuple[str, str, str], int] = {}
    out: list[StaffRow] = []
    for number, values in sheet.rows:
        code = values.get("implementation_code")
        if not code or number in sheet.bad_rows:
            continue
        if code not in names:
            sheet.issue(number, 0, f"实施编码 {code} 不在“{CATALOG}”中")
            continue
        if values["item_name"] and names[code] and values["item_name"] != names[code]:
            sheet.issue(number, sheet.index("item_name"), f"与“{CATALOG}”中的事项名称“{names[code]}”不一致")
            continue
        key = (code, values["step_key"], values["employee_no"])
        if key in seen:
            sheet.issue(number, sheet.index("employee_no"), f"该人员在该环节重复（已见于第 {seen[key]} 行）")
            continue
        seen[key] = number
        out.append(StaffRow(**values, row=number))
    return out


def _by_code(sheet: Sheet, seen_in: set[str] | None) -> dict[str, tuple[int, dict[str, Any]]]:
    found: dict[str, tuple[int, dict[str, Any]]] = {}
    for number, values in sheet.rows:
        code = values.get("implementation_code")
        if not code:
            continue
        if code in found:
            sheet.issue(number, 0, f"实施编码 {code} 重复（已见于第 {found[code][0]} 行）")
        elif seen_in is not None and code not in seen_in:
            sheet.issue(number, 0, f"实施编码 {code} 不在“{CATALOG}”中")
        else:
            found[code] = (number, values)
    return found


def _assemble(catalog: Sheet, details: Sheet, materials: Sheet) -> list[ItemRecord]:
    items = _by_code(catalog, None)
    detail_rows = _by_code(details, set(items))
    mats: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for number, values in materials.rows:
        code = values.get("implementation_code")
        if code and code not in items:
            materials.issue(number, 0, f"实施编码 {code} 不在“{CATALOG}”中")
        elif code:
            seqs = [v.get("seq") for _, v in mats.get(code, [])]
            if values.get("seq") in seqs:
                materials.issue(number, materials.index("seq"), f"序号 {values.get('seq')} 在该事项中重复")
            mats.setdefault(code, []).append((number, values))
    records: list[ItemRecord] = []
    for code, (number, values) in items.items():
        if code not in detail_rows:
            catalog.issue(number, 0, f"“{DETAILS}”中缺少实施编码 {code} 的行")
            continue
        d_number, d_values = detail_rows[code]
        broken = number in catalog.bad_rows or d_number in details.bad_rows
        merged = {**{k: v for k, v in values.items() if k not in _RECORD_KEYS}}
        merged.update({k: v for k, v in d_values.items() if k != "implementation_code"})
        material_list = []
        for m_number, m in sorted(mats.get(code, []), key=lambda r: r[1].get("seq") or 0):
            if m_number in materials.bad_rows:
                broken = True
                continue
            try:
                material_list.append(
                    Material(**{k: v for k, v in m.items() if k not in ("implementation_code", "seq")})
                )
            except ValidationError as err:
                _report(materials, m_number, err)
                broken = True
        if broken:  # already reported cell by cell
            continue
        try:
            content = ItemContent(**merged, materials=material_list)
        except ValidationError as err:
            for e in err.errors():
                key = str(e["loc"][0]) if e["loc"] else ""
                sheet, row = (
                    (catalog, number) if key in {c.key for c in COLUMNS[CATALOG]} else (details, d_number)
                )
                _report_one(sheet, row, key, e["msg"])
            continue
        records.append(
            ItemRecord(
                code, values["basic_code"], values["unit_code"], values["department_code"], content, number
            )
        )
    return records


_RECORD_KEYS = {"implementation_code", "basic_code", "unit_code", "department_code"}


def _report(sheet: Sheet, row: int, err: ValidationError) -> None:
    for e in err.errors():
        _report_one(sheet, row, str(e["loc"][0]) if e["loc"] else "", e["msg"])


def _report_one(sheet: Sheet, row: int, key: str, message: str) -> None:
    keys = [c.key for c in sheet.columns]
    sheet.issue(row, keys.index(key) if key in keys else 0, f"内容不合要求：{message}")


def _cell(col: Column, value: Any) -> Any:
    if col.kind == "bool":
        return YES if value else NO
    if col.kind == "codes":
        return ";".join(str(v) for v in value) or None
    if col.kind == "int":
        return int(value)
    if isinstance(value, IntEnum):
        return str(int(value))
    text = str(value)
    return text or None


def write(records: list[ItemRecord], staff: list[StaffRow] | None = None) -> bytes:
    """A workbook of ``records`` (and ``staff``) in the template's shape (readable by :func:`read_book`)."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    sheets = {name: book.create_sheet(name) for name in COLUMNS}
    for name, sheet in sheets.items():
        sheet.append([c.header for c in COLUMNS[name]])
        sheet.freeze_panes = "B2"
    for rec in records:
        base = {
            "implementation_code": rec.implementation_code, "basic_code": rec.basic_code,
            "unit_code": rec.unit_code, "department_code": rec.department_code,
        }  # fmt: skip
        content = rec.content.model_dump()
        row = {**content, **base}
        sheets[CATALOG].append([_cell(c, row[c.key]) for c in COLUMNS[CATALOG]])
        sheets[DETAILS].append([_cell(c, row[c.key]) for c in COLUMNS[DETAILS]])
        for seq, material in enumerate(rec.content.materials, start=1):
            m = {**material.model_dump(), "implementation_code": rec.implementation_code, "seq": seq}
            sheets[MATERIALS].append([_cell(c, m[c.key]) for c in COLUMNS[MATERIALS]])
    for person in staff or []:
        values = vars(person)
        sheets[STAFF].append([_cell(c, values[c.key]) for c in COLUMNS[STAFF]])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
