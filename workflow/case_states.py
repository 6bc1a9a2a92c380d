"""The states of a case and what each ledger event does to them — pure: :func:`replay` derives a case's
state from its events, :data:`MOVES` says from which states each action may be taken.

    submitted ─┬─ precheck ──► prechecking ─┬─ request_supplement (once) ──► supplement_requested
               │                            │        └─ supplement ──► prechecking
               ├─ accept ───────────────────┴─► in_progress ◄─► suspended (special procedure: clock stopped)
               └─ not_accept ──► not_accepted        │  decide (steps; parallel branches join)
                                                     ▼
    withdraw / void (any state before concluded) ─► concluded (approved / denied / withdrawn / voided)
                                                     │ result_ready
                                                     ▼
                                        result_ready ─ deliver ─► delivered ─ evaluate ─► evaluated
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from workflow.deadlines import Stop
from workflow.process import ProcessDefinition, Step, StepKind


class State(StrEnum):
    SUBMITTED = "submitted"
    PRECHECKING = "prechecking"
    SUPPLEMENT_REQUESTED = "supplement_requested"
    NOT_ACCEPTED = "not_accepted"
    IN_PROGRESS = "in_progress"
    SUSPENDED = "suspended"
    CONCLUDED = "concluded"
    RESULT_READY = "result_ready"
    DELIVERED = "delivered"
    EVALUATED = "evaluated"


LABELS = {
    State.SUBMITTED: "已提交", State.PRECHECKING: "预审中", State.SUPPLEMENT_REQUESTED: "待补正",
    State.NOT_ACCEPTED: "不予受理", State.IN_PROGRESS: "办理中", State.SUSPENDED: "特别程序中（计时暂停）",
    State.CONCLUDED: "已办结", State.RESULT_READY: "结果待领取", State.DELIVERED: "已送达",
    State.EVALUATED: "已评价",
}  # fmt: skip


class Outcome(StrEnum):
    APPROVED = "approved"
    DENIED = "denied"
    WITHDRAWN = "withdrawn"
    VOIDED = "voided"


class EventType(StrEnum):
    SUBMITTED = "submitted"
    PRECHECK_STARTED = "precheck_started"
    SUPPLEMENT_REQUESTED = "supplement_requested"
    SUPPLEMENTED = "supplemented"
    ACCEPTED = "accepted"
    NOT_ACCEPTED = "not_accepted"
    STEP_COMPLETED = "step_completed"
    SPECIAL_STARTED = "special_started"
    SPECIAL_ENDED = "special_ended"
    EXTENDED = "extended"
    CONCLUDED = "concluded"
    RESULT_READY = "result_ready"
    DELIVERED = "delivered"
    EVALUATED = "evaluated"
    MATERIAL_ASSIGNED = "material_assigned"


class Action(StrEnum):
    PRECHECK = "precheck"
    REQUEST_SUPPLEMENT = "request_supplement"
    SUPPLEMENT = "supplement"
    ACCEPT = "accept"
    NOT_ACCEPT = "not_accept"
    DECIDE = "decide"
    SPECIAL_START = "special_start"
    SPECIAL_END = "special_end"
    EXTEND = "extend"
    WITHDRAW = "withdraw"
    VOID = "void"
    RESULT_READY = "result_ready"
    DELIVER = "deliver"
    EVALUATE = "evaluate"
    ASSIGN_MATERIAL = "assign_material"


ACTION_LABELS = {
    Action.PRECHECK: "预审", Action.REQUEST_SUPPLEMENT: "一次性告知补正", Action.SUPPLEMENT: "补正材料",
    Action.ACCEPT: "受理", Action.NOT_ACCEPT: "不予受理", Action.DECIDE: "审查决定",
    Action.SPECIAL_START: "启动特别程序", Action.SPECIAL_END: "结束特别程序", Action.EXTEND: "延长办理时限",
    Action.WITHDRAW: "撤回申请", Action.VOID: "作废", Action.RESULT_READY: "出具结果",
    Action.DELIVER: "送达", Action.EVALUATE: "评价", Action.ASSIGN_MATERIAL: "归入材料",
}  # fmt: skip

_BEFORE_ACCEPT = frozenset({State.SUBMITTED, State.PRECHECKING})
_OPEN = frozenset(
    {State.SUBMITTED, State.PRECHECKING, State.SUPPLEMENT_REQUESTED, State.IN_PROGRESS, State.SUSPENDED}
)
MOVES: dict[Action, frozenset[State]] = {
    Action.PRECHECK: frozenset({State.SUBMITTED}),
    Action.REQUEST_SUPPLEMENT: _BEFORE_ACCEPT,
    Action.SUPPLEMENT: frozenset({State.SUPPLEMENT_REQUESTED}),
    Action.ACCEPT: _BEFORE_ACCEPT,
    Action.NOT_ACCEPT: _BEFORE_ACCEPT | {State.SUPPLEMENT_REQUESTED},
    Action.DECIDE: frozenset({State.IN_PROGRESS}),
    Action.SPECIAL_START: frozenset({State.IN_PROGRESS}),
    Action.SPECIAL_END: frozenset({State.SUSPENDED}),
    Action.EXTEND: frozenset({State.IN_PROGRESS, State.SUSPENDED}),
    Action.WITHDRAW: _OPEN,
    Action.VOID: _OPEN,
    Action.RESULT_READY: frozenset({State.CONCLUDED}),
    Action.DELIVER: frozenset({State.RESULT_READY}),
    Action.EVALUATE: frozenset({State.DELIVERED, State.NOT_ACCEPTED}),
    Action.ASSIGN_MATERIAL: _OPEN,
}
"""From which states each action may be taken (more conditions are checked by the engine)."""

FINAL = frozenset({State.NOT_ACCEPTED, State.DELIVERED, State.EVALUATED})
"""States in which the case is no longer in front of anyone (``case_file.status`` becomes closed)."""


@dataclass
class Derived:
    state: State = State.SUBMITTED
    outcome: Outcome | None = None
    submitted_on: dt.date | None = None
    accepted_on: dt.date | None = None
    concluded_on: dt.date | None = None
    active: dict[str, dt.date] = field(default_factory=dict)
    """step key → the day it became active"""
    done: dict[str, str] = field(default_factory=dict)
    """step key → decision"""
    cancelled: dict[str, dt.date] = field(default_factory=dict)
    """step key → the day it had become active; in progress when the case concluded"""
    stops: list[Stop] = field(default_factory=list)
    extension: int = 0
    extensions: int = 0
    supplements: int = 0
    slots: dict[int, str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Fact:
    """One ledger event as replay needs it."""

    type: str
    data: dict[str, Any]
    on: dt.date


def start_step(definition: ProcessDefinition) -> Step:
    return next(s for s in definition.steps if not s.after)


def _activate_after(d: Derived, definition: ProcessDefinition, on: dt.date) -> None:
    for s in definition.steps:
        if s.key not in d.done and s.key not in d.active and s.after and set(s.after) <= set(d.done):
            d.active[s.key] = on


def replay(facts: Sequence[Fact], definition: ProcessDefinition | None) -> Derived:
    """The state of a case after ``facts`` (in ledger order); trusts that each was a legal move."""
    d = Derived()
    for f in facts:
        t = f.type
        if t == EventType.SUBMITTED:
            d.state, d.submitted_on = State.SUBMITTED, f.on
        elif t in (EventType.PRECHECK_STARTED, EventType.SUPPLEMENTED):
            d.state = State.PRECHECKING
        elif t == EventType.SUPPLEMENT_REQUESTED:
            d.state, d.supplements = State.SUPPLEMENT_REQUESTED, d.supplements + 1
        elif t == EventType.NOT_ACCEPTED:
            d.state = State.NOT_ACCEPTED
        elif t == EventType.ACCEPTED:
            d.state, d.accepted_on = State.IN_PROGRESS, f.on
            if definition is not None:
                d.done[start_step(definition).key] = "approve"
                _activate_after(d, definition, f.on)
        elif t == EventType.STEP_COMPLETED:
            key = str(f.data.get("step"))
            d.active.pop(key, None)
            d.done[key] = str(f.data.get("decision"))
            if definition is not None and f.data.get("decision") == "approve":
                _activate_after(d, definition, f.on)
        elif t == EventType.SPECIAL_STARTED:
            d.state = State.SUSPENDED
            d.stops.append(Stop(f.on))
        elif t == EventType.SPECIAL_ENDED:
            d.state = State.IN_PROGRESS
            d.stops[-1] = Stop(d.stops[-1].start, f.on)
        elif t == EventType.EXTENDED:
            d.extension += int(f.data.get("days", 0))
            d.extensions += 1
        elif t == EventType.CONCLUDED:
            d.state, d.outcome, d.concluded_on = State.CONCLUDED, Outcome(str(f.data["outcome"])), f.on
            d.cancelled.update(d.active)
            d.active.clear()
        elif t == EventType.RESULT_READY:
            d.state = State.RESULT_READY
        elif t == EventType.DELIVERED:
            d.state = State.DELIVERED
        elif t == EventType.EVALUATED:
            d.state = State.EVALUATED
        elif t == EventType.MATERIAL_ASSIGNED:
            slot = f.data.get("slot")
            d.slots[int(f.data["material_id"])] = str(slot) if slot is not None else None
    return d


def conclude_step(definition: ProcessDefinition) -> Step | None:
    return next((s for s in definition.steps if s.kind == StepKind.CONCLUDE), None)
