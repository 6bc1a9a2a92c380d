"""The case engine on SQLite and PostgreSQL: the whole lifecycle, refusals naming the state, parallel
departments joined, one denial concluding, a village proxy point with county review, clock stops and extensions
recomputing the deadlines."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from tests.workflow.case_world import PARALLEL, PROXY, SIMPLE, World, add_material, at, build, cmd
from workflow import case_engine, ledger
from workflow.case_engine import DELIVER, RESULT
from workflow.cases import Case, CaseTask
from workflow.errors import Conflict, Forbidden, InvalidInput, NotFound

D = dt.date.fromisoformat


@pytest.fixture
def session(engine: sa.Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as s:
        yield s


@pytest.fixture
def world(session: Session) -> World:
    return build(session)


def submit(session: Session, world: World, window: str, version: int | None, day: str) -> Case:
    case = world.new_case(window, version)
    case_engine.submit(session, case, world.staff["clerk"].id, "clerk", at(day))
    session.commit()
    return case


def do(session: Session, world: World, who: str, case: Case, day: str, action: str, **kw: object) -> Case:
    assert case.id is not None
    out, _ = case_engine.act(session, world.scope(session, who), case.id, cmd(action, **kw), at(day))
    session.commit()
    return out


def tasks(session: Session, case: Case) -> dict[str, str]:
    return {t.step_key: t.status for t in session.exec(select(CaseTask).where(CaseTask.case_id == case.id))}


def test_full_lifecycle_with_deadlines(session: Session, world: World) -> None:
    version = world.item(session, SIMPLE, promised=20, statutory=20)
    case = submit(session, world, "county", version, "2025-09-25")
    assert (case.state, case.due_next) == (
        "submitted",
        D("2025-10-09"),
    )  # 5 working days to decide on acceptance
    with pytest.raises(Conflict, match="缺少：身份证明"):
        do(session, world, "clerk", case, "2025-09-26", "accept")
    do(session, world, "clerk", case, "2025-09-26", "request_supplement", missing=["授权委托书"])
    assert case.state == "supplement_requested"
    events = ledger.events(session, case.id or 0)
    assert events[-1].data["missing"] == ["身份证明", "授权委托书"]
    do(session, world, "clerk", case, "2025-09-26", "supplement")
    with pytest.raises(Conflict, match="只能一次性告知"):
        do(session, world, "clerk", case, "2025-09-26", "request_supplement", missing=["x"])
    m = add_material(session, case)
    do(session, world, "clerk", case, "2025-09-26", "assign_material", material_id=m.id, slot="身份证明")
    with pytest.raises(InvalidInput, match="不是该事项的申请材料"):
        do(session, world, "clerk", case, "2025-09-26", "assign_material", material_id=m.id, slot="户口本")
    do(session, world, "clerk", case, "2025-09-26", "accept")
    assert (case.state, case.accepted_on) == ("in_progress", D("2025-09-26"))
    assert case.due_promised == case.due_statutory == D("2025-10-30")  # the example
    assert tasks(session, case) == {"accept": "done", "review": "open"}
    with pytest.raises(Conflict, match="不由您的岗位"):
        do(session, world, "approver", case, "2025-09-29", "decide", step="review", decision="approve")
    do(session, world, "reviewer", case, "2025-09-29", "decide", step="review", decision="approve")
    do(session, world, "approver", case, "2025-09-30", "decide", step="approve", decision="approve")
    assert tasks(session, case)["done"] == "open"
    do(session, world, "clerk", case, "2025-10-09", "decide", step="done", decision="approve")
    assert (case.state, case.outcome) == ("concluded", "approved")
    assert tasks(session, case)[RESULT] == "open"
    do(session, world, "clerk", case, "2025-10-09", "result_ready", delivery="pickup")
    do(session, world, "clerk", case, "2025-10-10", "deliver")
    assert tasks(session, case)[DELIVER] == "done"
    do(session, world, "clerk", case, "2025-10-10", "evaluate", score=5, opinion="很满意")
    assert (case.state, case.status) == ("evaluated", "closed")
    assert [e.type for e in ledger.events(session, case.id or 0)] == [
        "submitted", "supplement_requested", "supplemented", "material_assigned", "accepted", "step_completed",
        "step_completed", "step_completed", "concluded", "result_ready", "delivered", "evaluated",
    ]  # fmt: skip
    assert ledger.verify(session).ok


def test_illegal_moves_are_refused_naming_the_state(session: Session, world: World) -> None:
    version = world.item(session, SIMPLE)
    case = submit(session, world, "county", version, "2025-09-25")
    with pytest.raises(Conflict, match="当前状态为“已提交”，不能审查决定"):
        do(session, world, "approver", case, "2025-09-26", "decide", step="approve", decision="approve")
    with pytest.raises(Conflict, match="不能出具结果"):
        do(session, world, "clerk", case, "2025-09-26", "result_ready")
    with pytest.raises(Conflict, match="不能评价"):
        do(session, world, "clerk", case, "2025-09-26", "evaluate", score=3)
    with pytest.raises(Forbidden):
        do(session, world, "reviewer", case, "2025-09-26", "accept")
    with pytest.raises(
        NotFound
    ):  # another line's reviewer has no task in the case: it does not exist for them
        do(session, world, "reviewer_ga", case, "2025-09-26", "decide", step="review", decision="approve")
    do(session, world, "clerk", case, "2025-09-26", "withdraw", opinion="申请人撤回")
    assert (case.state, case.outcome, case.status) == ("concluded", "withdrawn", "closed")
    with pytest.raises(Conflict, match="已办结（撤回）”，不能受理"):
        do(session, world, "clerk", case, "2025-09-26", "accept")
    assert tasks(session, case) == {"accept": "done"}
    case2 = submit(session, world, "county", None, "2025-09-25")
    with pytest.raises(Conflict, match="没有关联已配置办理流程"):
        do(session, world, "clerk", case2, "2025-09-26", "accept")
    do(session, world, "clerk", case2, "2025-09-26", "not_accept", opinion="不属于本机关职权范围")
    assert case2.state == "not_accepted"


def _accepted(session: Session, world: World, steps: list[dict[str, object]], window: str = "county",
              who: str = "clerk") -> Case:  # fmt: skip
    version = world.item(session, steps)
    case = submit(session, world, window, version, "2025-09-25")
    add_material(session, case, "身份证明")
    return do(session, world, who, case, "2025-09-26", "accept")


def test_three_departments_in_parallel_conclude_only_after_all_three(session: Session, world: World) -> None:
    case = _accepted(session, world, PARALLEL)
    assert tasks(session, case) == {"accept": "done", "scjg": "open", "ga": "open", "zj": "open"}
    do(session, world, "reviewer_ga", case, "2025-09-29", "decide", step="ga", decision="approve")
    do(session, world, "reviewer", case, "2025-09-29", "decide", step="scjg", decision="approve")
    with pytest.raises(Conflict, match="环节“done”当前不在办理中"):
        do(session, world, "clerk", case, "2025-09-29", "decide", step="done", decision="approve")
    do(session, world, "reviewer_zj", case, "2025-09-30", "decide", step="zj", decision="approve")
    assert tasks(session, case)["done"] == "open"
    do(session, world, "clerk", case, "2025-09-30", "decide", step="done", decision="approve")
    assert (case.state, case.outcome) == ("concluded", "approved")
    # every department that took part still sees the case
    for who in ("reviewer_ga", "reviewer_zj"):
        assert world.scope(session, who).get(session, Case, case.id or 0).id == case.id


def test_one_denial_concludes_the_case_denied(session: Session, world: World) -> None:
    case = _accepted(session, world, PARALLEL)
    do(session, world, "reviewer", case, "2025-09-29", "decide", step="scjg", decision="approve")
    with pytest.raises(InvalidInput, match="必须填写意见"):
        do(session, world, "reviewer_ga", case, "2025-09-29", "decide", step="ga", decision="deny")
    do(
        session,
        world,
        "reviewer_ga",
        case,
        "2025-09-29",
        "decide",
        step="ga",
        decision="deny",
        opinion="不符合条件",
    )
    assert (case.state, case.outcome) == ("concluded", "denied")
    assert tasks(session, case)["zj"] == "cancelled"
    with pytest.raises(Conflict, match="已办结（不予许可）”，不能审查决定"):
        do(session, world, "reviewer_zj", case, "2025-09-29", "decide", step="zj", decision="approve")


def test_village_proxy_accepts_county_reviews_result_at_the_village(session: Session, world: World) -> None:
    case = _accepted(session, world, PROXY, window="village", who="village_clerk")
    review = session.exec(
        select(CaseTask).where(CaseTask.case_id == case.id, CaseTask.step_key == "review")
    ).one()
    assert review.unit_id == world.county.id
    with pytest.raises(NotFound):  # the village clerk cannot reach the county's steps (but sees the case)
        world.scope(session, "village_clerk").get(session, CaseTask, review.id or 0)
    with pytest.raises(Conflict, match="不由您的岗位"):
        do(session, world, "village_clerk", case, "2025-09-29", "decide", step="review", decision="approve")
    do(session, world, "reviewer", case, "2025-09-29", "decide", step="review", decision="approve")
    do(session, world, "approver", case, "2025-09-30", "decide", step="approve", decision="approve")
    do(session, world, "clerk", case, "2025-09-30", "decide", step="done", decision="approve")
    result = session.exec(
        select(CaseTask).where(CaseTask.case_id == case.id, CaseTask.step_key == RESULT)
    ).one()
    assert result.unit_id == world.village.id
    do(session, world, "village_clerk", case, "2025-10-09", "result_ready", delivery="pickup")
    event = ledger.events(session, case.id or 0)[-1]
    assert (event.type, event.data["window_id"]) == ("result_ready", world.windows["village"])


def test_special_procedure_stops_the_clock_and_extension_adds_days(session: Session, world: World) -> None:
    case = _accepted(session, world, SIMPLE)  # accepted 2025-09-26, 20 working days → 2025-10-30
    do(session, world, "reviewer", case, "2025-09-29", "special_start", kind="专家评审", opinion="需专家论证")
    assert case.state == "suspended"
    assert tasks(session, case)["review"] == "paused"
    with pytest.raises(Conflict, match="特别程序中"):
        do(session, world, "reviewer", case, "2025-09-30", "decide", step="review", decision="approve")
    do(session, world, "reviewer", case, "2025-10-10", "special_end")
    # 9-29 … 10-10 stopped: 9-28 5, 10-11 6, 10-13..17 7-11, 10-20..24 12-16, 10-27..30 17-20, 10-31 21?
    # counted days: 9-28 (1, 调休); 10-11 (2); 10-13..17 (3-7); 10-20..24 (8-12); 10-27..31 (13-17);
    # 11-3 18, 11-4 19, 11-5 20
    assert case.due_promised == D("2025-11-05")
    with pytest.raises(Forbidden):
        do(session, world, "reviewer", case, "2025-10-13", "extend", days=5, opinion="复杂")
    do(session, world, "approver", case, "2025-10-13", "extend", days=10, opinion="情况复杂")
    assert case.due_statutory == D("2025-11-19")  # + 10 working days: 11-6..7, 11-10..14, 11-17..19
    with pytest.raises(Conflict, match="只能延长一次"):
        do(session, world, "approver", case, "2025-10-13", "extend", days=1, opinion="再延")


def test_an_open_case_keeps_its_version_when_a_new_one_is_published(session: Session, world: World) -> None:
    from workflow import catalog
    from workflow.catalog import ItemContent, ItemVersion
    from workflow.catalog import Material as Required

    v1 = world.item(session, SIMPLE, promised=20, statutory=20)
    case = submit(session, world, "county", v1, "2025-09-25")
    old = session.get(ItemVersion, v1)
    assert old is not None
    # The unit publishes version 2 from 2025-10-01 with other materials and a shorter promised limit;
    # version 1 is closed the day before (validity periods never overlap).
    draft = catalog.new_draft(session, old.item_id)
    content = ItemContent(
        name=old.name, item_type="01", level=old.level, statutory_limit=20, promised_limit=5,
        materials=[Required(name="申请书")],
    )  # fmt: skip
    catalog.update_draft(session, draft, content)
    catalog.close(session, old, dt.date(2025, 10, 1))
    catalog.publish(session, draft, dt.date(2025, 10, 1), None)
    session.commit()
    assert catalog.current_version(session, old.item_id, dt.date(2025, 10, 2)).id == draft.id  # type: ignore[union-attr]
    # The case opened under version 1 stays on it: its slots and limits are version 1's.
    m = add_material(session, case)
    do(session, world, "clerk", case, "2025-10-09", "assign_material", material_id=m.id, slot="身份证明")
    do(session, world, "clerk", case, "2025-10-09", "accept")
    assert case.item_version_id == v1
    # 20 working days after 2025-10-09 (Saturday 10-11 is a 调休 working day), not version 2's 5.
    assert case.due_promised == D("2025-11-05")
