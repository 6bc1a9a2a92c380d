"""The case workflow over HTTP: moves (``POST /cases/{id}/actions``), detail with timeline and deadlines, my work
queue, case search, and audit verification. Every id goes through the person's scope (a case outside it is a
404 like a missing one); what a role may do is ``workflow.scope.PERMISSIONS`` and the case's tasks."""

from __future__ import annotations

import time
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Query
from sqlmodel import Session, col, func, select

from coordinator.api.cases import _public
from coordinator.api.deps import CoordinatorDep, SessionDep
from coordinator.api.principal import PrincipalDep
from coordinator.cases import workflow as case_workflow
from coordinator.models.case import (
    AuditReport,
    BreakPublic,
    CaseCommand,
    CaseDetail,
    CasePublic,
    CasesPage,
    EventPublic,
    QueueEntry,
    QueuePage,
    SlotPublic,
    TaskPublic,
)  # fmt: skip
from workflow import calendar, case_engine, ledger
from workflow.case_engine import PERMISSION, Command
from workflow.case_states import MOVES, EventType, State, start_step
from workflow.case_states import Action as Move
from workflow.cases import Case, CaseTask, Material, TaskStatus
from workflow.deadlines import flag
from workflow.org import OrgUnit
from workflow.scope import Action, Scope

router = APIRouter(prefix="/api/v1", tags=["case workflow"])

Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0)]


@router.post("/cases/{case_id}/actions")
def act(
    case_id: int, body: CaseCommand, principal: PrincipalDep, session: SessionDep, coordinator: CoordinatorDep
) -> CasePublic:
    """Move the case: accept, request supplements (once), decide a step, stop the clock, extend, conclude,
    hand out the result, record the evaluation, or put a material into a required-material slot."""
    cmd = Command(**{**body.model_dump(exclude={"action"}), "action": Move(body.action)})
    case, _ = case_workflow.act(
        session, coordinator.case_hooks, principal.scope, case_id, cmd, coordinator.case_policy
    )
    return _public(case)


@router.get("/cases/{case_id}/detail")
def detail(case_id: int, principal: PrincipalDep, session: SessionDep) -> CaseDetail:
    """The case, the timeline of its events, its tasks with their due dates, and its material slots."""
    principal.scope.require(Action.CASE_READ)
    case = principal.scope.get(session, Case, case_id)
    ctx = case_engine.context(session, case)
    materials = list(
        session.exec(select(Material).where(Material.case_id == case.id).order_by(col(Material.id)))
    )
    slots = [
        SlotPublic(name=m.name, required=m.required,
                   material_ids=[x.id or 0 for x in materials if x.slot == m.name])
        for m in (ctx.content.materials if ctx.content else [])
    ]  # fmt: skip
    tasks = session.exec(select(CaseTask).where(CaseTask.case_id == case.id).order_by(col(CaseTask.id)))
    events = ledger.events(session, case_id)
    return CaseDetail(
        case=_public(case, materials),
        timeline=[EventPublic.model_validate(e, from_attributes=True) for e in events],
        tasks=[TaskPublic.model_validate(t, from_attributes=True) for t in tasks],
        slots=slots,
        missing=[s.name for s in slots if s.required and not s.material_ids],
        moves=_moves(session, principal.scope, case, ctx, {e.type for e in events}),
    )


def _moves(
    session: Session, scope: Scope, case: Case, ctx: case_engine.Context, happened: set[str]
) -> list[str]:
    """The moves the person may take now, in ``Move`` order: the case's state allows it (``MOVES``), their roles
    do (``case_engine.PERMISSION``), and — where the engine asks for one — they hold an open (or, to end a
    special procedure, paused) task of the case within their reach. The engine still checks every move."""
    try:
        state = State(case.state)
    except ValueError:
        return []
    roles = [str(r) for r in scope.roles]
    mine = list(
        session.exec(scope.select(CaseTask).where(CaseTask.case_id == case.id, col(CaseTask.role).in_(roles)))
    )
    open_keys = {t.step_key for t in mine if t.status == TaskStatus.OPEN}
    paused = any(t.status == TaskStatus.PAUSED for t in mine)
    first = start_step(ctx.definition).key if ctx.definition is not None else "accept"
    counter = first in open_keys
    task_ok = {
        Move.PRECHECK: counter, Move.ACCEPT: counter, Move.NOT_ACCEPT: counter,
        Move.REQUEST_SUPPLEMENT: counter and EventType.SUPPLEMENT_REQUESTED not in happened,
        Move.DECIDE: bool(open_keys - {first, case_engine.RESULT, case_engine.DELIVER}),
        Move.SPECIAL_START: bool(open_keys), Move.SPECIAL_END: paused,
        Move.EXTEND: EventType.EXTENDED not in happened,
        Move.RESULT_READY: case_engine.RESULT in open_keys, Move.DELIVER: case_engine.DELIVER in open_keys,
    }  # fmt: skip
    return [
        str(m) for m in Move
        if state in MOVES[m] and scope.may(PERMISSION[m]) and task_ok.get(m, True)
    ]  # fmt: skip


def _calendar(session: Session, scope: Scope) -> calendar.Calendar:
    ids = [int(p) for p in scope.unit_path.strip("/").split("/") if p]
    codes = session.exec(select(OrgUnit.code).where(col(OrgUnit.id).in_(ids)).order_by(col(OrgUnit.level)))
    return calendar.load(session, list(codes))


@router.get("/tasks/mine")
def my_tasks(
    principal: PrincipalDep, session: SessionDep, limit: Limit = 50, offset: Offset = 0
) -> QueuePage:
    """Open tasks of my roles within my reach, most urgent (earliest due) first."""
    scope = principal.scope
    scope.require(Action.CASE_READ)
    roles = [str(r) for r in scope.roles]
    mine = (CaseTask.status == TaskStatus.OPEN, col(CaseTask.role).in_(roles))
    # ids first, from the covering index of open tasks; then only those rows
    ids = scope.restrict(select(col(CaseTask.id)), CaseTask).where(*mine)
    ids = ids.order_by(col(CaseTask.due).asc().nulls_last(), col(CaseTask.id)).limit(limit).offset(offset)
    page = list(session.exec(ids))
    order = {task_id: n for n, task_id in enumerate(page)}
    tasks = sorted(
        session.exec(select(CaseTask).where(col(CaseTask.id).in_(page))), key=lambda t: order[t.id]
    )
    count = session.exec(scope.restrict(select(func.count(col(CaseTask.id))), CaseTask).where(*mine)).one()
    cases = {c.id: c for c in session.exec(select(Case).where(col(Case.id).in_([t.case_id for t in tasks])))}
    cal, today = _calendar(session, scope), case_engine.china_date(time.time())
    data = []
    for t in tasks:
        c = cases[t.case_id]
        data.append(QueueEntry(task=TaskPublic.model_validate(t, from_attributes=True), case_code=c.code,
                               title=c.title, state=c.state, flag=flag(cal, today, c.due_next),
                               task_flag=flag(cal, today, t.due), due_next=c.due_next))  # fmt: skip
    return QueuePage(data=data, count=count)


@router.get("/cases")
def search(
    principal: PrincipalDep,
    session: SessionDep,
    q: Annotated[str | None, Query(max_length=64, description="case code, applicant name, or part of the title")] = None,
    state: Annotated[str | None, Query(max_length=24)] = None,
    flag_: Annotated[str | None, Query(alias="flag", pattern="^(green|yellow|red)$")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> CasesPage:  # fmt: skip
    """Cases within my reach, most urgent first."""
    principal.scope.require(Action.CASE_READ)
    query = principal.scope.select(Case)
    if q:
        query = query.where(sa.or_(col(Case.code) == q, col(Case.applicant_name) == q,
                                   col(Case.title).contains(q, autoescape=True)))  # fmt: skip
    if state:
        query = query.where(Case.state == state)
    if flag_:
        query = query.where(Case.flag == flag_)
    count = session.exec(select(func.count()).select_from(query.subquery())).one()
    query = query.order_by(col(Case.due_next).is_(None), col(Case.due_next), col(Case.id).desc())
    return CasesPage(data=[_public(c) for c in session.exec(query.limit(limit).offset(offset))], count=count)


def _report(report: ledger.Report) -> AuditReport:
    found = report.first_break
    return AuditReport(ok=report.ok, cases=report.cases, events=report.events,
                       first_break=BreakPublic(case_id=found.case_id, seq=found.seq, reason=found.reason)
                       if found else None)  # fmt: skip


@router.get("/cases/{case_id}/audit")
def audit_case(case_id: int, principal: PrincipalDep, session: SessionDep) -> AuditReport:
    """Check the case's hash chain: the first edited, deleted or reordered event, if any."""
    principal.scope.require(Action.AUDIT_VERIFY)
    case = principal.scope.get(session, Case, case_id)
    return _report(ledger.verify(session, [case.id or 0]))


@router.get("/audit/verify")
def audit_all(principal: PrincipalDep, session: SessionDep) -> AuditReport:
    """Check the hash chains of every case within my reach; stops at the first broken link."""
    principal.scope.require(Action.AUDIT_VERIFY)
    return _report(ledger.verify(session, cases=principal.scope.select(Case)))
