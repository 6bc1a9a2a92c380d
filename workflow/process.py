"""Process templates: the steps a case of an item version goes through, who does each and in what time.

A template belongs to one item version (so a case keeps the process it was opened under) and is edited while
the version is a draft. Steps form a directed acyclic graph through ``after``: one start (受理), one end (办结);
a step with several successors forks parallel branches (e.g. two departments review at the same time), a step
with several predecessors joins them. ``level`` forwards between levels — a village proxy point (6) accepts,
the county (4) handles — and a case only ever moves up or stays, never down. ``department_code`` hands a step
to another department line of the handling unit.
"""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from pydantic import Field as PField
from sqlmodel import Field, Session, SQLModel, select

from workflow.catalog import ItemContent, ItemVersion, VersionStatus
from workflow.codes import Level, Role
from workflow.errors import Conflict, InvalidInput


class StepKind(StrEnum):
    ACCEPT = "受理"
    REVIEW = "审核"
    APPROVE = "审批"
    CONCLUDE = "办结"
    CUSTOM = "其他"


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = PField(pattern=r"^[a-z0-9_]{1,32}$")
    kind: StepKind
    name: str = PField(min_length=1, max_length=64)
    role: Role
    time_limit: int = PField(ge=0, le=3650, description="working days")
    criteria: str = PField("", description="审查标准")
    materials_checked: list[str] = PField(default_factory=list, description="names of the item's materials")
    department_code: str | None = PField(None, description="another department line handles this step")
    level: Level | None = PField(None, description="the level that handles this step; null: the item's unit")
    after: list[str] = PField(default_factory=list, description="keys of the steps that precede this one")


class ProcessDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    steps: list[Step] = PField(min_length=2)


class ProcessTemplate(SQLModel, table=True):
    __tablename__ = "process_template"

    id: int | None = Field(default=None, primary_key=True)
    version_id: int = Field(foreign_key="catalog_item_version.id", unique=True)
    definition: dict[str, Any] = Field(sa_type=sa.JSON)
    updated_at: float = Field(default_factory=time.time)


class StepStaff(SQLModel, table=True):
    """Who handles a step of a template (附件1 表2), and in how many working days (at most the step's limit).

    Staffing is how a unit organises itself, not part of the item's published rules: it may change while the
    version is published, and a new draft starts with the staff of the version it copies.
    """

    __tablename__ = "process_step_staff"
    __table_args__ = (sa.UniqueConstraint("template_id", "step_key", "staff_id"),)

    id: int | None = Field(default=None, primary_key=True)
    template_id: int = Field(foreign_key="process_template.id", index=True)
    step_key: str = Field(max_length=32)
    staff_id: int = Field(foreign_key="staff.id", index=True)
    time_limit: int = Field(description="working days")


def _order(steps: dict[str, Step]) -> list[str] | None:
    """Keys in topological order, or None if ``after`` has a cycle."""
    indegree = {k: len(set(s.after)) for k, s in steps.items()}
    ready = [k for k, n in indegree.items() if n == 0]
    order: list[str] = []
    while ready:
        k = ready.pop()
        order.append(k)
        for other, s in steps.items():
            if k in s.after:
                indegree[other] -= 1
                if indegree[other] == 0:
                    ready.append(other)
    return order if len(order) == len(steps) else None


def ordered_steps(definition: ProcessDefinition) -> list[Step]:
    """The steps in an order that respects ``after`` (ties kept in the order they were defined)."""
    steps = list(definition.steps)
    placed: set[str] = set()
    out: list[Step] = []
    while len(out) < len(steps):
        ready = [s for s in steps if s.key not in placed and set(s.after) <= placed]
        if not ready:  # a cycle (not in a valid definition): keep the rest as defined
            out.extend(s for s in steps if s.key not in placed)
            break
        out.append(ready[0])
        placed.add(ready[0].key)
    return out


def critical_path(definition: ProcessDefinition) -> int:
    """The longest chain of time limits from start to end (working days); assumes a valid definition."""
    steps = {s.key: s for s in definition.steps}
    finish: dict[str, int] = {}
    for key in _order(steps) or []:
        step = steps[key]
        finish[key] = step.time_limit + max((finish[p] for p in step.after), default=0)
    return max(finish.values(), default=0)


def problems(definition: ProcessDefinition, content: ItemContent) -> list[str]:
    """Everything wrong with ``definition`` for an item with ``content`` (empty: valid)."""
    found: list[str] = []
    steps: dict[str, Step] = {}
    for s in definition.steps:
        if s.key in steps:
            found.append(f"环节 {s.key} 重复")
        steps[s.key] = s
    for s in definition.steps:
        for p in s.after:
            if p not in steps:
                found.append(f"环节 {s.key} 的前序环节 {p} 不存在")
            elif p == s.key:
                found.append(f"环节 {s.key} 不能在自身之后")
    if found:
        return found
    starts = [s for s in definition.steps if not s.after]
    successors = {p for s in definition.steps for p in s.after}
    ends = [s for s in definition.steps if s.key not in successors]
    if len(starts) != 1 or starts[0].kind != StepKind.ACCEPT:
        found.append("流程必须恰好有一个起始环节，且为“受理”")
    if len(ends) != 1 or ends[0].kind != StepKind.CONCLUDE:
        found.append("流程必须恰好有一个结束环节，且为“办结”")
    if _order(steps) is None:
        found.append("环节之间存在循环")
        return found
    names = {m.name for m in content.materials}
    for s in definition.steps:
        for m in s.materials_checked:
            if m not in names:
                found.append(f"环节 {s.key} 审查的材料“{m}”不在该事项的申请材料中")
        level = s.level or content.level
        for p in s.after:
            before = steps[p].level or content.level
            if level > before:
                found.append(f"环节 {s.key} 不能从{int(before)}级转回更低的{int(level)}级办理")
    limit = content.promised_limit or content.statutory_limit
    total = critical_path(definition)
    if limit and total > limit:
        found.append(
            f"各环节时限合计 {total} 个工作日，超过{'承诺' if content.promised_limit else '法定'}时限 {limit}"
        )
    return found


def get_template(session: Session, version_id: int) -> ProcessTemplate | None:
    return session.exec(select(ProcessTemplate).where(ProcessTemplate.version_id == version_id)).first()


def set_template(session: Session, version: ItemVersion, definition: ProcessDefinition) -> ProcessTemplate:
    """Store ``definition`` for a draft version; :class:`InvalidInput` lists every problem.

    Staff of steps that are gone, that now take another role or a shorter time than theirs are unassigned.
    """
    if version.status != VersionStatus.DRAFT:
        raise Conflict("已发布版本的办理流程不可修改；请新建草稿版本")
    found = problems(definition, version.parsed())
    if found:
        raise InvalidInput("；".join(found))
    assert version.id is not None
    template = get_template(session, version.id) or ProcessTemplate(version_id=version.id, definition={})
    before = (
        {s.key: s for s in ProcessDefinition.model_validate(template.definition).steps} if template.id else {}
    )
    template.definition = definition.model_dump(mode="json")
    template.updated_at = time.time()
    session.add(template)
    session.flush()
    after = {s.key: s for s in definition.steps}
    for row in session.exec(select(StepStaff).where(StepStaff.template_id == template.id)):
        step, old = after.get(row.step_key), before.get(row.step_key)
        if step is None or old is None or step.role != old.role or row.time_limit > step.time_limit:
            session.delete(row)
    session.flush()
    return template


def copy_template(session: Session, source_version_id: int, target_version_id: int) -> None:
    """Give a new draft the process (and step staff) of the version it was copied from (if that had one)."""
    source = get_template(session, source_version_id)
    if source is not None and get_template(session, target_version_id) is None:
        copy = ProcessTemplate(version_id=target_version_id, definition=dict(source.definition))
        session.add(copy)
        session.flush()
        assert copy.id is not None
        for row in session.exec(select(StepStaff).where(StepStaff.template_id == source.id)):
            session.add(
                StepStaff(
                    template_id=copy.id,
                    step_key=row.step_key,
                    staff_id=row.staff_id,
                    time_limit=row.time_limit,
                )
            )
        session.flush()
