"""The stats listener keeps ``stats_daily`` exact through cases' lives (accepted; concluded on time, in the
yellow window, past the promised date, past the statutory date; withdrawn), on SQLite and PostgreSQL; a rebuild
from the ledger gives the same rows; the boards stay within the reader's scope and follow the rules."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from coordinator.cases import workflow as case_workflow
from coordinator.cases.hooks import CaseHooks
from coordinator.models.stats import COUNTS, NO_DEPARTMENT, BoardRules, StatsDaily
from coordinator.stats import aggregate, boards
from tests.workflow.case_world import World, add_material, at, build, cmd, step
from tests.workflow.conftest import region_scope
from workflow import case_engine
from workflow.cases import Case
from workflow.codes import Role
from workflow.org import unit_by_code
from workflow.scope import Scope

D = dt.date.fromisoformat
STEPS = [
    step("accept", "受理", "clerk", 0, []),
    step("review", "审核", "reviewer", 1, ["accept"]),
    step("approve", "审批", "approver", 1, ["review"]),
    step("done", "办结", "clerk", 0, ["approve"]),
]


@pytest.fixture
def session(engine: sa.Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as s:
        yield s


@pytest.fixture
def world(session: Session) -> World:
    return build(session)


@pytest.fixture
def hooks() -> CaseHooks:
    h = CaseHooks()
    h.register(aggregate.on_case_event)
    return h


def rows(session: Session) -> dict[tuple[dt.date, int, int], tuple[int, ...]]:
    found = session.exec(select(StatsDaily)).all()
    return {(r.day, r.unit_id, r.department_id): tuple(getattr(r, n) for n in COUNTS) for r in found}


def move(session: Session, hooks: CaseHooks, world: World, who: str, case: Case, day: str, action: str,
         **kw: Any) -> None:  # fmt: skip
    case_workflow.act(session, hooks, world.scope(session, who), case.id or 0, cmd(action, **kw), now=at(day))


def accepted(session: Session, hooks: CaseHooks, world: World, version: int, day: str) -> Case:
    case = world.new_case("county", version)
    case_engine.submit(session, case, world.staff["clerk"].id, "clerk", at(day))
    case_workflow.commit_new(session, hooks, case)
    add_material(session, case, "身份证明")
    move(session, hooks, world, "clerk", case, day, "accept")
    return case


def conclude(session: Session, hooks: CaseHooks, world: World, case: Case, day: str) -> None:
    for who, key in (("reviewer", "review"), ("approver", "approve"), ("clerk", "done")):
        move(session, hooks, world, who, case, day, "decide", step=key, decision="approve")


def life(session: Session, hooks: CaseHooks, world: World) -> None:
    """Five cases accepted Mon 2025-11-03; promised 3 working days (due Thu 11-06), statutory 6 (Tue 11-11)."""
    version = world.item(session, STEPS, promised=3, statutory=6)
    cases = [accepted(session, hooks, world, version, "2025-11-03") for _ in range(5)]
    for case, day in zip(cases, ["2025-11-03", "2025-11-05", "2025-11-07", "2025-11-12"], strict=False):
        conclude(session, hooks, world, case, day)
    move(session, hooks, world, "clerk", cases[4], "2025-11-04", "withdraw", opinion="申请人撤回")


def test_listener_counts_a_life_exactly_and_rebuild_agrees(
    session: Session, world: World, hooks: CaseHooks
) -> None:
    life(session, hooks, world)
    unit, dept = world.county.id or 0, world.depts["SCJG"]
    #                     accepted concluded on_time overdue yellow red
    expected = {
        (D("2025-11-03"), unit, dept): (5, 1, 1, 0, 0, 0),  # green: 3 working days left
        (D("2025-11-05"), unit, dept): (0, 1, 1, 0, 1, 0),  # yellow: 1 working day left
        (D("2025-11-07"), unit, dept): (0, 1, 0, 0, 0, 1),  # past the promised date: red card
        (D("2025-11-12"), unit, dept): (0, 1, 0, 1, 0, 1),  # past the statutory date too: overdue
    }
    assert rows(session) == expected
    assert aggregate.rebuild(session) == 4
    session.commit()
    assert rows(session) == expected


def test_a_refused_move_counts_nothing(session: Session, world: World, hooks: CaseHooks) -> None:
    def boom(*_: Any) -> None:
        raise RuntimeError("a later listener fails")

    version = world.item(session, STEPS, promised=3, statutory=6)
    case = world.new_case("county", version)
    case_engine.submit(session, case, world.staff["clerk"].id, "clerk", at("2025-11-03"))
    case_workflow.commit_new(session, hooks, case)
    add_material(session, case, "身份证明")
    hooks.register(boom)
    with pytest.raises(RuntimeError):
        move(session, hooks, world, "clerk", case, "2025-11-03", "accept")
    assert rows(session) == {}


def scope_at(session: Session, code: str, dept_code: str | None = None) -> Scope:
    unit = unit_by_code(session, code)
    assert unit is not None
    return Scope(0, frozenset({Role.DEPT_ADMIN}), unit.id or 0, unit.path, dept_code)


def test_boards_stay_within_scope(session: Session, world: World, hooks: CaseHooks) -> None:
    life(session, hooks, world)
    start, end = D("2025-11-01"), D("2025-11-30")
    county = boards.daily(session, scope_at(session, "640104000000"), start, end)
    assert [(r.unit_id, r.accepted, r.concluded, r.on_time_rate) for r in county.rows] == [
        (world.county.id, 5, 4, 0.5)
    ]
    assert county.rows[0].department_name == "市场监督管理局"
    assert boards.daily(session, region_scope(session), start, end).total == county.total
    other_county = boards.daily(session, scope_at(session, "640105000000"), start, end)
    assert other_county.rows == []
    assert other_county.total.accepted == 0
    other_line = boards.daily(session, scope_at(session, "640104000000", "GA"), start, end)
    assert other_line.rows == []
    trend = boards.trend(session, scope_at(session, "640104000000"), start, end)
    assert len(trend.points) == 30
    assert trend.points[2].accepted == 5
    assert trend.points[11].overdue == 1


def put(session: Session, day: dt.date, unit_id: int, **counts: int) -> None:
    aggregate.add(session, (day, unit_id, NO_DEPARTMENT), counts)


def test_honor_and_exposure_follow_the_stored_rules(session: Session) -> None:
    a, b, c, d = (
        scope_at(session, code).unit_id
        for code in ("640104000000", "640105000000", "640106000000", "640121000000")
    )
    day = D("2025-11-03")
    put(session, day, a, concluded=50, on_time=50)  # 100 %: honor
    put(session, day, b, concluded=100, on_time=98, red_cards=2)  # 98 % but red cards: exposure
    put(session, day, c, concluded=5, on_time=5)  # too few for honor
    put(session, day, d, concluded=20, on_time=15, red_cards=0, overdue=3)  # overdue ≥ 3: exposure
    session.commit()
    scope = region_scope(session)
    honor = boards.honor(session, scope, day, day)
    assert [r.unit_id for r in honor.rows] == [a]
    exposure = boards.exposure(session, scope, day, day)
    assert [r.unit_id for r in exposure.rows] == [d, b]
    assert [r.unit_id for r in boards.overdue_ranking(session, scope, day, day).rows] == [d, b]
    boards.set_rules(session, BoardRules(honor_min_concluded=5, exposure_min_red_cards=3), None, 0.0)
    assert [r.unit_id for r in boards.honor(session, scope, day, day).rows] == [a, c, b]
    assert [r.unit_id for r in boards.exposure(session, scope, day, day).rows] == [d]
    stored = session.exec(select(col(StatsDaily.id))).all()
    assert len(stored) == 4
