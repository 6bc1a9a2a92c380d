"""Two approvers approve the same step at the same moment: exactly one decision is recorded, the other is told
the step is no longer in progress (SQLite serialises writers; on PostgreSQL both pass the checks against the
same state, and the ledger's unique (case_id, seq) decides)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from coordinator.cases import workflow as case_workflow
from coordinator.cases.hooks import CaseHooks
from tests.workflow.case_world import SIMPLE, add_material, at, build, cmd
from workflow import case_engine, ledger
from workflow.errors import Conflict


def test_two_simultaneous_approvals_record_one(engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    with Session(engine, expire_on_commit=False) as s:
        world = build(s)
        case = world.new_case("county", world.item(s, SIMPLE))
        case_engine.submit(s, case, world.staff["clerk"].id, "clerk", at("2025-09-25"))
        add_material(s, case, "身份证明")
        for who, action, kw in [("clerk", "accept", {}), ("reviewer", "decide", {"step": "review", "decision": "approve"})]:  # fmt: skip
            case_engine.act(s, world.scope(s, who), case.id or 0, cmd(action, **kw), at("2025-09-26"))
        s.commit()
        scopes = [world.scope(s, "approver"), world.scope(s, "approver2")]
    case_id = case.id or 0

    if engine.dialect.name == "postgresql":  # make both pass their checks before either appends
        barrier = threading.Barrier(2, timeout=20)
        original = case_engine._check
        waited: set[int] = set()

        def check_then_wait(*args: Any, **kw: Any) -> Any:
            out = original(*args, **kw)
            if threading.get_ident() not in waited:
                waited.add(threading.get_ident())
                barrier.wait()
            return out

        monkeypatch.setattr(case_engine, "_check", check_then_wait)

    fired: list[str] = []
    hooks = CaseHooks()
    hooks.register(lambda _s, _c, event_type, _d: fired.append(event_type))
    outcomes: list[str] = []

    def approve(i: int) -> None:
        with Session(engine, expire_on_commit=False) as s:
            try:
                step = cmd("decide", step="approve", decision="approve", opinion=f"approver {i}")
                case_workflow.act(s, hooks, scopes[i], case_id, step)
                outcomes.append("ok")
            except Conflict as err:
                outcomes.append(str(err))

    threads = [threading.Thread(target=approve, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes)[0] == "ok"
    assert "当前不在办理中" in sorted(outcomes)[1], outcomes
    with Session(engine) as s:
        decisions = [e for e in ledger.events(s, case_id) if e.data.get("step") == "approve"]
        assert len(decisions) == 1
        assert ledger.verify(s).ok
    assert fired.count("step_completed") == 1
