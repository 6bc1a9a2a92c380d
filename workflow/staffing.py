"""Staff per process step (附件1 表2) in the catalog workbook: checked against the database, applied, exported.

A row of 办理环节人员 names an item (实施编码), a step of the process of the item's latest version (环节编码)
and a person (工号) who handles that step within at most the step's time limit. Each problem is reported by
sheet, row, column and reason:

- the item has a process and the step is one of its steps (环节名称, when filled, is the step's name);
- the person exists within the importer's reach — otherwise the same answer as for an unknown number — is
  active, and 姓名, 单位编码 and 部门编码 are those of the account;
- the person works at the item's unit or below it (at the step's level when the step is forwarded), in the
  department line that handles the step (the step's or the item's) or in none (comprehensive windows);
- 角色 is the step's role and the person holds it; 办理时限 is at most the step's time limit.

Applied, each item of the workbook gets exactly its rows (no rows: nobody assigned); a workbook without the
sheet leaves staffing as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from openpyxl.utils import get_column_letter
from sqlmodel import Session, col, delete, select

from workflow.catalog import CatalogItem, ItemVersion
from workflow.codes import LABELS, Role
from workflow.org import Department, OrgUnit
from workflow.process import ProcessDefinition, ProcessTemplate, Step, StepStaff, ordered_steps
from workflow.scope import Scope
from workflow.staff import Staff
from workflow.xlsx import COLUMNS, STAFF, Issue, StaffRow


@dataclass(frozen=True)
class Target:
    """Where an item's staff rows go: its unit, its department line, the process of its latest version."""

    unit: OrgUnit
    department_code: str
    template: ProcessTemplate | None


@dataclass(frozen=True, order=True)
class Assignment:
    step_key: str
    staff_id: int
    time_limit: int


def latest(session: Session, item_ids: list[int]) -> dict[int, tuple[ItemVersion, ProcessTemplate | None]]:
    """The latest version of each item and that version's process template (if any)."""
    versions: dict[int, ItemVersion] = {}
    stmt = select(ItemVersion).where(col(ItemVersion.item_id).in_(item_ids)).order_by(col(ItemVersion.number))
    for v in session.exec(stmt):
        versions[v.item_id] = v
    ids = [v.id for v in versions.values()]
    templates = {
        t.version_id: t
        for t in session.exec(select(ProcessTemplate).where(col(ProcessTemplate.version_id).in_(ids)))
    }
    return {item_id: (v, templates.get(v.id or 0)) for item_id, v in versions.items()}


def _role(role: str) -> str:
    return f"“{LABELS[Role][role]}”（{role}）"


class _Checker:
    def __init__(self, session: Session, scope: Scope, rows: list[StaffRow]) -> None:
        self.scope = scope
        numbers = {r.employee_no for r in rows}
        self.staff = {
            s.employee_no: s for s in session.exec(select(Staff).where(col(Staff.employee_no).in_(numbers)))
        }
        unit_ids = {s.unit_id for s in self.staff.values()}
        self.units = {u.id: u for u in session.exec(select(OrgUnit).where(col(OrgUnit.id).in_(unit_ids)))}
        dept_ids = {s.department_id for s in self.staff.values() if s.department_id is not None}
        self.depts = {
            d.id: d.code for d in session.exec(select(Department).where(col(Department.id).in_(dept_ids)))
        }
        self.steps: dict[int, dict[str, Step]] = {}

    def steps_of(self, template: ProcessTemplate) -> dict[str, Step]:
        assert template.id is not None
        if template.id not in self.steps:
            definition = ProcessDefinition.model_validate(template.definition)
            self.steps[template.id] = {s.key: s for s in definition.steps}
        return self.steps[template.id]

    def visible(self, person: Staff | None) -> Staff | None:
        if person is None or not self.units[person.unit_id].path.startswith(self.scope.unit_path):
            return None
        line = self.depts.get(person.department_id) if person.department_id is not None else None
        if self.scope.department_code is not None and line not in (None, self.scope.department_code):
            return None
        return person

    def problems(self, row: StaffRow, target: Target) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        step: Step | None = None
        if target.template is None:
            found.append(("step_key", "该事项尚未定义办理流程，请先设置流程再分配人员"))
        else:
            steps = self.steps_of(target.template)
            step = steps.get(row.step_key)
            if step is None:
                found.append(
                    ("step_key", f"环节 {row.step_key} 不在该事项的办理流程中（有：{'、'.join(steps)}）")
                )
            elif row.step_name and row.step_name != step.name:
                found.append(("step_name", f"与流程中该环节的名称“{step.name}”不一致"))
        person = self.visible(self.staff.get(row.employee_no))
        if person is None:
            found.append(("employee_no", f"工号 {row.employee_no} 不存在或不在您的管辖范围内"))
            return found
        unit = self.units[person.unit_id]
        line = self.depts.get(person.department_id) if person.department_id is not None else None
        if person.status != "active":
            found.append(("employee_no", f"人员 {row.employee_no} 已停用"))
        if row.staff_name != person.name:
            found.append(("staff_name", f"与工号 {row.employee_no} 登记的姓名不一致"))
        if row.unit_code != unit.code:
            found.append(
                ("unit_code", f"工号 {row.employee_no} 登记在单位 {unit.code}，不是 {row.unit_code}")
            )
        elif not unit.path.startswith(target.unit.path):
            found.append(
                ("unit_code", f"人员所在单位 {unit.code} 不在事项实施主体 {target.unit.code} 及其下级范围内")
            )
        if (row.department_code or None) != line:
            found.append(("department_code", f"工号 {row.employee_no} 登记的部门编码为“{line or ''}”"))
        if step is None:
            return found
        if step.level is not None and unit.level != int(step.level) and row.unit_code == unit.code:
            found.append(("unit_code", f"该环节由 {int(step.level)} 级办理，人员所在单位为 {unit.level} 级"))
        handling_line = step.department_code or target.department_code
        if line is not None and line != handling_line and (row.department_code or None) == line:
            found.append(("department_code", f"该环节由部门 {handling_line} 办理，人员属于部门 {line}"))
        if row.role != str(step.role):
            found.append(("role", f"该环节应由{_role(str(step.role))}办理"))
        elif step.role not in person.role_set:
            found.append(("role", f"人员 {row.employee_no} 没有{_role(str(step.role))}角色"))
        if row.time_limit > step.time_limit:
            found.append(("time_limit", f"超过该环节的时限 {step.time_limit} 个工作日"))
        return found


def _column(key: str) -> str:
    cols = COLUMNS[STAFF]
    i = next(i for i, c in enumerate(cols) if c.key == key)
    return f"{get_column_letter(i + 1)}（{cols[i].header}）"


def check(
    session: Session, scope: Scope, rows: list[StaffRow], targets: dict[str, Target]
) -> tuple[list[Issue], dict[str, set[Assignment]]]:
    """Problems of ``rows`` and, per implementation code in ``targets``, the assignments they ask for.

    Rows of codes missing from ``targets`` (their catalog row has a problem of its own) are skipped.
    """
    checker = _Checker(session, scope, rows)
    issues: list[Issue] = []
    wanted: dict[str, set[Assignment]] = {code: set() for code in targets}
    for row in rows:
        target = targets.get(row.implementation_code)
        if target is None:
            continue
        found = checker.problems(row, target)
        issues.extend(Issue(STAFF, row.row, _column(key), reason) for key, reason in found)
        if not found:
            person = checker.staff[row.employee_no]
            wanted[row.implementation_code].add(Assignment(row.step_key, person.id or 0, row.time_limit))
    return issues, wanted


def apply(session: Session, item_ids: dict[str, int], wanted: dict[str, set[Assignment]]) -> set[str]:
    """Give each item's latest process exactly its ``wanted`` assignments; returns the codes that changed."""
    templates = {item_id: t for item_id, (_, t) in latest(session, list(item_ids.values())).items()}
    current: dict[int, set[Assignment]] = {}
    ids = [t.id for t in templates.values() if t is not None]
    for row in session.exec(select(StepStaff).where(col(StepStaff.template_id).in_(ids))):
        current.setdefault(row.template_id, set()).add(Assignment(row.step_key, row.staff_id, row.time_limit))
    changed: set[str] = set()
    replace: list[StepStaff] = []
    stale: list[int] = []
    for code, item_id in item_ids.items():
        template = templates.get(item_id)
        want = wanted.get(code, set())
        if template is None or template.id is None:
            assert not want  # check() refused rows for items without a process
            continue
        if current.get(template.id, set()) != want:
            changed.add(code)
            stale.append(template.id)
            replace.extend(
                StepStaff(
                    template_id=template.id, step_key=a.step_key, staff_id=a.staff_id, time_limit=a.time_limit
                )
                for a in sorted(want)
            )
    if stale:
        gone = delete(StepStaff).where(col(StepStaff.template_id).in_(stale))
        session.exec(gone.execution_options(synchronize_session=False))
    session.add_all(replace)
    session.flush()
    return changed


def export_rows(session: Session, items: list[CatalogItem]) -> list[StaffRow]:
    """The staff rows of the latest version of each of ``items`` (in their order; steps in process order)."""
    by_item = latest(session, [i.id for i in items if i.id is not None])
    templates = {t.id: t for _, t in by_item.values() if t is not None}
    assigned: dict[int, list[StepStaff]] = {}
    for row in session.exec(select(StepStaff).where(col(StepStaff.template_id).in_(list(templates)))):
        assigned.setdefault(row.template_id, []).append(row)
    staff_ids = {a.staff_id for rows in assigned.values() for a in rows}
    staff = {s.id: s for s in session.exec(select(Staff).where(col(Staff.id).in_(staff_ids)))}
    units = {
        u.id: u.code
        for u in session.exec(select(OrgUnit).where(col(OrgUnit.id).in_({s.unit_id for s in staff.values()})))
    }
    depts = {d.id: d.code for d in session.exec(select(Department))}
    out: list[StaffRow] = []
    for item in items:
        version, template = by_item.get(item.id or 0, (None, None))
        if version is None or template is None or template.id not in assigned:
            continue
        definition = ProcessDefinition.model_validate(template.definition)
        rows = assigned[template.id]
        for step in ordered_steps(definition):
            people = [(staff[a.staff_id], a) for a in rows if a.step_key == step.key]
            for person, a in sorted(people, key=lambda p: p[0].employee_no):
                dept = depts.get(person.department_id, "") if person.department_id is not None else ""
                entry = StaffRow(
                    item.implementation_code, version.name, step.key, step.name, person.employee_no, person.name,
                    units[person.unit_id], dept, str(step.role), a.time_limit,
                )  # fmt: skip
                out.append(entry)
    return out
