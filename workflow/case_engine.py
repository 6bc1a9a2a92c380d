"""The case engine: checks a move against the case's derived state and the actor's tasks, appends it to the
ledger and rewrites the derived cache (case columns, tasks, deadlines) from the whole ledger.

Who may act: the scope's ``PERMISSIONS`` decide by role (403); the case must be within the scope (404);
moves on a step need an open task of that step that the person's role and reach cover — the step's role, at
the unit of the step's level (a village proxy point accepts, the county reviews), in the step's department
line. A refused move raises :class:`~workflow.errors.Conflict` naming the case's state and the move.

The caller commits (after firing its hooks); a concurrent move on the same case makes the ledger's unique
``(case_id, seq)`` fail at flush or commit: the caller retries once against the new state.
"""

from __future__ import annotations

import datetime as dt
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from workflow import calendar, ledger
from workflow.case_states import (
    ACTION_LABELS,
    FINAL,
    LABELS,
    MOVES,
    Action,
    Derived,
    EventType,
    Fact,
    Outcome,
    State,
    conclude_step,
    replay,
    start_step,
)  # fmt: skip
from workflow.cases import Case, CaseTask, Material, TaskStatus
from workflow.catalog import CatalogItem, ItemContent, ItemVersion, VersionStatus
from workflow.codes import Role, TimeUnit
from workflow.deadlines import DEFAULT_YELLOW_DAYS, due_date, flag
from workflow.errors import Conflict, InvalidInput
from workflow.org import Department, OrgUnit
from workflow.process import ProcessDefinition, Step, StepKind, get_template
from workflow.scope import Action as Perm
from workflow.scope import Scope

CHINA = dt.timezone(dt.timedelta(hours=8))
RESULT, DELIVER = "_result", "_deliver"

PERMISSION: dict[Action, Perm] = {
    **{a: Perm.CASE_HANDLE for a in Action},
    Action.DECIDE: Perm.CASE_DECIDE,
    Action.SPECIAL_START: Perm.CASE_DECIDE,
    Action.SPECIAL_END: Perm.CASE_DECIDE,
    Action.EXTEND: Perm.CASE_EXTEND,
    Action.VOID: Perm.CASE_VOID,
}


def china_date(ts: float) -> dt.date:
    return dt.datetime.fromtimestamp(ts, CHINA).date()


def mask_phone(phone: str) -> str:
    """For logs: ``138****5678``."""
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 8 else "****"


@dataclass(frozen=True)
class Policy:
    yellow_days: int = DEFAULT_YELLOW_DAYS
    acceptance_days: int = 5
    """行政许可法 Art. 32: decide on acceptance, or tell everything to supplement, within 5 days."""
    result_days: int = 10
    """Art. 44: the certificate within 10 days of the decision."""
    max_extension_days: int = 10
    """Art. 42: one extension of at most 10 days, approved by the head of the body."""


DEFAULT_POLICY = Policy()


@dataclass(frozen=True)
class Command:
    action: Action
    step: str | None = None
    decision: str | None = None
    opinion: str = ""
    kind: str = ""
    days: int = 0
    missing: list[str] = field(default_factory=list)
    delivery: str = "pickup"
    score: int = 0
    material_id: int | None = None
    slot: str | None = None


@dataclass(frozen=True)
class Rules:
    """What a case's item version says (immutable once published, so kept in memory)."""

    content: ItemContent | None = None
    definition: ProcessDefinition | None = None
    item_unit_id: int | None = None
    item_department_id: int | None = None
    item_department_code: str | None = None


@dataclass
class Context:
    case: Case
    rules: Rules
    path_units: dict[int, int]
    """level → unit id, along the case unit's path"""
    cal: calendar.Calendar

    @property
    def content(self) -> ItemContent | None:
        return self.rules.content

    @property
    def definition(self) -> ProcessDefinition | None:
        return self.rules.definition

    def step(self, key: str) -> Step | None:
        return next((s for s in self.definition.steps if s.key == key), None) if self.definition else None


@dataclass
class _Memo:
    """Per database: published rules, unit paths, department ids (none of them ever change once seen)."""

    rules: dict[int, Rules] = field(default_factory=dict)
    paths: dict[int, tuple[dict[int, int], list[str]]] = field(default_factory=dict)
    departments: dict[tuple[int, str], int] = field(default_factory=dict)


_memos: weakref.WeakKeyDictionary[Engine, _Memo] = weakref.WeakKeyDictionary()


def _memo(session: Session) -> _Memo:
    engine = session.get_bind().engine
    found = _memos.get(engine)
    if found is None:
        found = _memos[engine] = _Memo()
    return found


def rules(session: Session, version_id: int | None) -> Rules:
    if version_id is None:
        return Rules()
    memo = _memo(session).rules
    found = memo.get(version_id)
    if found is not None:
        return found
    version = session.get(ItemVersion, version_id)
    if version is None:
        return Rules()
    item = session.get(CatalogItem, version.item_id)
    template = get_template(session, version_id)
    dept = session.get(Department, item.department_id) if item is not None else None
    out = Rules(
        version.parsed(),
        ProcessDefinition.model_validate(template.definition) if template is not None else None,
        item.unit_id if item is not None else None,
        item.department_id if item is not None else None,
        dept.code if dept is not None else None,
    )
    if version.status == VersionStatus.PUBLISHED:
        memo[version_id] = out
    return out


def _path(session: Session, unit_id: int) -> tuple[dict[int, int], list[str]]:
    """level → unit id, and the unit codes from the top, of ``unit_id``'s path (paths never change)."""
    memo = _memo(session).paths
    found = memo.get(unit_id)
    if found is None:
        unit = session.get(OrgUnit, unit_id)
        ids = [int(p) for p in (unit.path if unit else "").strip("/").split("/") if p]
        units = sorted(session.exec(select(OrgUnit).where(col(OrgUnit.id).in_(ids))), key=lambda u: u.level)
        found = memo[unit_id] = ({u.level: u.id or 0 for u in units}, [u.code for u in units])
    return found


def context(session: Session, case: Case) -> Context:
    levels, codes = _path(session, case.unit_id)
    return Context(case, rules(session, case.item_version_id), levels, calendar.load(session, codes))


def derive(session: Session, case: Case) -> Derived:
    assert case.id is not None
    defn = context(session, case).definition
    return replay([Fact(e.type, e.data, china_date(e.at)) for e in ledger.events(session, case.id)], defn)


# -- tasks and deadlines ------------------------------------------------------------------------------


def _department(session: Session, unit_id: int, code: str) -> int | None:
    memo = _memo(session).departments
    found = memo.get((unit_id, code))
    if found is None:
        found = session.exec(
            select(Department.id).where(Department.unit_id == unit_id, Department.code == code)
        ).first()
        if found is not None:
            memo[(unit_id, code)] = found
    return found


def _place(session: Session, ctx: Context, step: Step | None) -> tuple[int, int | None]:
    """The unit and department that handle ``step`` (None: the case's own acceptance/result work)."""
    case, r = ctx.case, ctx.rules
    if step is None or (step.kind == StepKind.ACCEPT and step.level is None):
        unit_id, dept_id = case.unit_id, case.department_id
    elif step.level is not None and int(step.level) in ctx.path_units:
        unit_id, dept_id = ctx.path_units[int(step.level)], None
    elif r.item_unit_id is not None:
        unit_id, dept_id = r.item_unit_id, r.item_department_id
    else:
        unit_id, dept_id = case.unit_id, case.department_id
    code = step.department_code if step is not None else None
    if code is None and dept_id is None:
        code = r.item_department_code
    if code is not None:
        found = _department(session, unit_id, code)
        dept_id = found if found is not None else dept_id
    return unit_id, dept_id


def _task_specs(session: Session, ctx: Context, d: Derived, today: dt.date, policy: Policy) -> dict[str, dict[str, Any]]:  # fmt: skip
    specs: dict[str, dict[str, Any]] = {}
    cal, defn = ctx.cal, ctx.definition

    def add(key: str, step: Step | None, name: str, role: str, status: str, since: dt.date, due: dt.date | None) -> None:  # fmt: skip
        unit_id, dept_id = _place(session, ctx, step)
        specs[key] = {"name": name, "role": role, "unit_id": unit_id, "department_id": dept_id,
                      "status": status, "since": since, "due": due}  # fmt: skip

    first = start_step(defn) if defn is not None else None
    first_key = first.key if first is not None else "accept"
    submitted = d.submitted_on or today
    if d.accepted_on is None:
        status = {State.SUBMITTED: TaskStatus.OPEN, State.PRECHECKING: TaskStatus.OPEN,
                  State.SUPPLEMENT_REQUESTED: TaskStatus.PAUSED}.get(d.state, TaskStatus.DONE)  # fmt: skip
        add(first_key, first, first.name if first else "受理", str(first.role if first else Role.CLERK), status,
            submitted, due_date(cal, submitted, policy.acceptance_days))  # fmt: skip
        return specs
    add(first_key, first, first.name if first else "受理", str(first.role if first else Role.CLERK),
        TaskStatus.DONE, submitted, d.accepted_on)  # fmt: skip
    for key in [*d.done, *d.active, *d.cancelled]:
        step = ctx.step(key)
        if step is None or key == first_key:
            continue
        since = d.active.get(key) or d.cancelled.get(key) or d.accepted_on
        if key in d.active:
            status = TaskStatus.PAUSED if d.state == State.SUSPENDED else TaskStatus.OPEN
            due = due_date(cal, since, step.time_limit, TimeUnit.WORKING_DAYS, d.stops, 0, today)
        else:
            status, due = TaskStatus.CANCELLED if key in d.cancelled else TaskStatus.DONE, None
        add(key, step, step.name, str(step.role), status, since, due)
    if d.outcome in (Outcome.APPROVED, Outcome.DENIED) and d.concluded_on is not None:
        result = TaskStatus.OPEN if d.state == State.CONCLUDED else TaskStatus.DONE
        add(RESULT, None, "出具结果", str(Role.CLERK), result, d.concluded_on,
            due_date(cal, d.concluded_on, policy.result_days))  # fmt: skip
        if d.state != State.CONCLUDED:
            deliver = TaskStatus.OPEN if d.state == State.RESULT_READY else TaskStatus.DONE
            add(DELIVER, None, "送达", str(Role.CLERK), deliver, d.concluded_on, None)
    return specs


def refresh(session: Session, ctx: Context, d: Derived, now: float, policy: Policy) -> None:
    """Rewrite the case's cached state, deadlines, flag and tasks from ``d`` (derived from its ledger)."""
    case, today, content = ctx.case, china_date(now), ctx.content
    case.state, case.outcome = d.state, d.outcome
    case.accepted_on = d.accepted_on
    case.due_promised = case.due_statutory = None
    if d.accepted_on is not None and content is not None:
        if content.promised_limit:
            case.due_promised = due_date(ctx.cal, d.accepted_on, content.promised_limit,
                                         content.promised_limit_unit, d.stops, d.extension, today)  # fmt: skip
        if content.statutory_limit:
            case.due_statutory = due_date(ctx.cal, d.accepted_on, content.statutory_limit,
                                          content.statutory_limit_unit, d.stops, d.extension, today)  # fmt: skip
    specs = _task_specs(session, ctx, d, today, policy)
    open_dues = [s["due"] for s in specs.values() if s["status"] == TaskStatus.OPEN and s["due"] is not None]
    if d.state in (State.IN_PROGRESS, State.SUSPENDED):
        open_dues += [x for x in (case.due_promised, case.due_statutory) if x is not None]
    case.due_next = min(open_dues) if open_dues else None
    case.flag = flag(ctx.cal, today, case.due_next, policy.yellow_days)
    if d.state in FINAL or d.outcome in (Outcome.WITHDRAWN, Outcome.VOIDED):
        case.status, case.closed_at = "closed", case.closed_at or now
    case.updated_at = now
    session.add(case)
    existing = {t.step_key: t for t in session.exec(select(CaseTask).where(CaseTask.case_id == case.id))}
    for key, spec in specs.items():
        task = existing.pop(key, None) or CaseTask(case_id=case.id or 0, step_key=key, **spec)
        for name, value in spec.items():
            setattr(task, name, value)
        session.add(task)
    for gone in existing.values():
        session.delete(gone)
    session.flush()


# -- moves --------------------------------------------------------------------------------------------


def submit(session: Session, case: Case, actor_id: int | None, role: str, now: float | None = None,
           policy: Policy = DEFAULT_POLICY) -> list[ledger.CaseEvent]:  # fmt: skip
    """Store a new case (not yet flushed) with its ``submitted`` event."""
    now = time.time() if now is None else now
    session.add(case)
    session.flush()
    data = {"channel": case.channel, "window_id": case.window_id, "item_version_id": case.item_version_id}
    event = ledger.append(session, case, EventType.SUBMITTED, actor_id, role, data, now)
    ctx = context(session, case)
    refresh(
        session, ctx, replay([Fact(event.type, event.data, china_date(now))], ctx.definition), now, policy
    )
    return [event]


def _refuse(d: Derived, action: Action, why: str = "") -> Conflict:
    label = LABELS[d.state] + (f"（{_OUTCOMES[d.outcome]}）" if d.outcome else "")
    return Conflict(f"办件当前状态为“{label}”，不能{ACTION_LABELS[action]}" + (f"：{why}" if why else ""))


_OUTCOMES = {Outcome.APPROVED: "准予", Outcome.DENIED: "不予许可", Outcome.WITHDRAWN: "撤回",
             Outcome.VOIDED: "作废"}  # fmt: skip


def _my_task(session: Session, scope: Scope, case_id: int, key: str | None, status: str) -> CaseTask | None:
    query = scope.select(CaseTask).where(
        CaseTask.case_id == case_id, CaseTask.status == status,
        col(CaseTask.role).in_([str(r) for r in scope.roles]),
    )  # fmt: skip
    if key is not None:
        query = query.where(CaseTask.step_key == key)
    return session.exec(query).first()


def _missing(session: Session, ctx: Context) -> list[str]:
    if ctx.content is None:
        return []
    filled = set(session.exec(select(Material.slot).where(Material.case_id == ctx.case.id)))
    return [m.name for m in ctx.content.materials if m.required and m.name not in filled]


def act(session: Session, scope: Scope, case_id: int, cmd: Command, now: float | None = None,
        policy: Policy = DEFAULT_POLICY) -> tuple[Case, list[ledger.CaseEvent]]:  # fmt: skip
    """Take ``cmd`` on the case; the new events are flushed, not committed."""
    scope.require(PERMISSION[cmd.action])
    case = scope.get(session, Case, case_id)
    now = time.time() if now is None else now
    ctx = context(session, case)
    events = ledger.events(session, case_id)
    d = replay([Fact(e.type, e.data, china_date(e.at)) for e in events], ctx.definition)
    if d.state not in MOVES[cmd.action]:
        raise _refuse(d, cmd.action)
    role, new = _check(session, scope, ctx, d, cmd, policy)
    out: list[ledger.CaseEvent] = []
    for type_, data in new:
        if type_ == EventType.MATERIAL_ASSIGNED:
            material = session.get(Material, data["material_id"])
            assert material is not None
            material.slot = data["slot"]
            session.add(material)
        out.append(ledger.append(session, case, type_, scope.staff_id, role, data, now))
    facts = [Fact(e.type, e.data, china_date(e.at)) for e in [*events, *out]]
    refresh(session, ctx, replay(facts, ctx.definition), now, policy)
    return case, out


def _task_role(session: Session, scope: Scope, ctx: Context, d: Derived, action: Action, key: str | None,
               status: str = TaskStatus.OPEN) -> str:  # fmt: skip
    assert ctx.case.id is not None
    task = _my_task(session, scope, ctx.case.id, key, status)
    if task is None:
        raise _refuse(d, action, "该环节不由您的岗位或所在单位、部门办理")
    return task.role


def _check(session: Session, scope: Scope, ctx: Context, d: Derived, cmd: Command,
           policy: Policy) -> tuple[str, list[tuple[EventType, dict[str, Any]]]]:  # fmt: skip
    """The actor's role for the record and the events ``cmd`` appends; raises when the move is refused."""
    a, case = cmd.action, ctx.case
    any_role = ",".join(sorted(str(r) for r in scope.roles))
    first = start_step(ctx.definition).key if ctx.definition else "accept"
    if a in (Action.PRECHECK, Action.REQUEST_SUPPLEMENT, Action.ACCEPT, Action.NOT_ACCEPT):
        role = _task_role(session, scope, ctx, d, a, first)
        if a == Action.PRECHECK:
            return role, [(EventType.PRECHECK_STARTED, {"opinion": cmd.opinion})]
        if a == Action.NOT_ACCEPT:
            if not cmd.opinion:
                raise InvalidInput("不予受理必须说明理由")
            return role, [(EventType.NOT_ACCEPTED, {"reason": cmd.opinion})]
        missing = _missing(session, ctx)
        if a == Action.REQUEST_SUPPLEMENT:
            if d.supplements:
                raise _refuse(d, a, "补正材料只能一次性告知，本办件已告知过")
            listed = list(dict.fromkeys([*missing, *cmd.missing]))
            if not listed:
                raise InvalidInput("请列出需要补正的全部材料")
            return role, [(EventType.SUPPLEMENT_REQUESTED, {"missing": listed, "opinion": cmd.opinion})]
        if ctx.definition is None:
            raise _refuse(d, a, "办件没有关联已配置办理流程的事项版本")
        if missing:
            raise _refuse(d, a, f"申请材料不齐全，缺少：{'、'.join(missing)}（请一次性告知补正）")
        return role, [(EventType.ACCEPTED, {"step": first, "opinion": cmd.opinion})]
    if a == Action.SUPPLEMENT:
        return any_role, [(EventType.SUPPLEMENTED, {"opinion": cmd.opinion})]
    if a == Action.DECIDE:
        step = ctx.step(cmd.step or "")
        if step is None or step.key not in d.active:
            raise _refuse(d, a, f"环节“{cmd.step}”当前不在办理中")
        if cmd.decision not in ("approve", "deny"):
            raise InvalidInput("决定只能是 approve（同意）或 deny（不同意）")
        if cmd.decision == "deny" and not cmd.opinion:
            raise InvalidInput("不同意必须填写意见")
        role = _task_role(session, scope, ctx, d, a, step.key)
        new = [
            (EventType.STEP_COMPLETED, {"step": step.key, "decision": cmd.decision, "opinion": cmd.opinion})
        ]
        last = conclude_step(ctx.definition) if ctx.definition else None
        if cmd.decision == "deny":
            new.append((EventType.CONCLUDED, {"outcome": Outcome.DENIED.value, "step": step.key,
                                              "opinion": cmd.opinion}))  # fmt: skip
        elif last is not None and step.key == last.key:
            new.append((EventType.CONCLUDED, {"outcome": Outcome.APPROVED.value, "step": step.key,
                                              "opinion": cmd.opinion}))  # fmt: skip
        return role, list(new)
    if a == Action.SPECIAL_START:
        if not cmd.kind:
            raise InvalidInput("请说明特别程序的种类（听证、专家评审、检验检测……）")
        role = _task_role(session, scope, ctx, d, a, None)
        return role, [(EventType.SPECIAL_STARTED, {"kind": cmd.kind, "reason": cmd.opinion})]
    if a == Action.SPECIAL_END:
        role = _task_role(session, scope, ctx, d, a, None, TaskStatus.PAUSED)
        return role, [(EventType.SPECIAL_ENDED, {"opinion": cmd.opinion})]
    if a == Action.EXTEND:
        if d.extensions:
            raise _refuse(d, a, "办理时限只能延长一次")
        if not 1 <= cmd.days <= policy.max_extension_days:
            raise InvalidInput(f"延长天数必须在 1 到 {policy.max_extension_days} 之间")
        if not cmd.opinion:
            raise InvalidInput("延长办理时限必须说明理由")
        return any_role, [(EventType.EXTENDED, {"days": cmd.days, "reason": cmd.opinion})]
    if a in (Action.WITHDRAW, Action.VOID):
        if not cmd.opinion:
            raise InvalidInput("请说明理由")
        outcome = Outcome.WITHDRAWN if a == Action.WITHDRAW else Outcome.VOIDED
        return any_role, [(EventType.CONCLUDED, {"outcome": outcome.value, "reason": cmd.opinion})]
    if a == Action.RESULT_READY:
        if cmd.delivery not in ("pickup", "mail"):
            raise InvalidInput("送达方式只能是 pickup（窗口领取）或 mail（邮寄）")
        role = _task_role(session, scope, ctx, d, a, RESULT)
        return role, [(EventType.RESULT_READY, {"delivery": cmd.delivery, "window_id": case.window_id,
                                                "outcome": d.outcome.value if d.outcome else None})]  # fmt: skip
    if a == Action.DELIVER:
        role = _task_role(session, scope, ctx, d, a, DELIVER)
        return role, [(EventType.DELIVERED, {"how": "mailed" if cmd.delivery == "mail" else "picked_up"})]
    if a == Action.EVALUATE:
        if not 1 <= cmd.score <= 5:
            raise InvalidInput("评价为 1（非常不满意）到 5（非常满意）")
        return any_role, [(EventType.EVALUATED, {"score": cmd.score, "comment": cmd.opinion})]
    # ASSIGN_MATERIAL
    material = session.get(Material, cmd.material_id or 0)
    if material is None or material.case_id != case.id:
        raise InvalidInput("材料不属于该办件")
    names = [m.name for m in ctx.content.materials] if ctx.content else []
    if cmd.slot is not None and cmd.slot not in names:
        raise InvalidInput(f"“{cmd.slot}”不是该事项的申请材料（可选：{'、'.join(names) or '无'}）")
    return any_role, [(EventType.MATERIAL_ASSIGNED, {"material_id": material.id, "slot": cmd.slot})]
