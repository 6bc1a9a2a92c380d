"""The hash-chained ledger: verify finds every one of 200 randomized edits, deletions and reorderings."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from tests.workflow.case_world import SIMPLE, add_material, at, build, cmd
from workflow import case_engine, ledger
from workflow.cases import Case
from workflow.ledger import CaseEvent

EVENTS: sa.Table = CaseEvent.__table__  # type: ignore[attr-defined]


def _cases(engine: sa.Engine) -> None:
    with Session(engine, expire_on_commit=False) as s:
        world = build(s)
        version = world.item(s, SIMPLE)
        for n in range(4):
            case = world.new_case("county", version)
            case_engine.submit(s, case, world.staff["clerk"].id, "clerk", at("2025-09-25"))
            add_material(s, case, "身份证明")
            steps: list[tuple[str, str, dict[str, Any]]] = [("clerk", "accept", {}), ("reviewer", "decide", {"step": "review", "decision": "approve"}),
                     ("approver", "decide", {"step": "approve", "decision": "approve"}),
                     ("clerk", "decide", {"step": "done", "decision": "approve"}),
                     ("clerk", "result_ready", {}), ("clerk", "deliver", {}), ("clerk", "evaluate", {"score": 4})]  # fmt: skip
            for who, action, kw in steps[: 3 + n]:
                case_engine.act(s, world.scope(s, who), case.id or 0, cmd(action, **kw), at("2025-09-26"))
            s.commit()


def _edit(
    column: str, change: Callable[[object], object]
) -> Callable[[Session, random.Random, list[CaseEvent]], str]:
    def tamper(s: Session, rng: random.Random, rows: list[CaseEvent]) -> str:
        row = rng.choice(rows)
        s.execute(EVENTS.update().where(EVENTS.c.id == row.id).values({column: change(getattr(row, column))}))
        return f"edit {column} of {row.case_id}/{row.seq}"

    return tamper


def _edit_and_rehash(s: Session, rng: random.Random, rows: list[CaseEvent]) -> str:
    row = rng.choice(rows)
    data = {**row.data, "opinion": "改过的意见"}
    digest = ledger.event_hash(
        row.case_id, row.seq, row.type, row.actor_id, row.role, data, row.at, row.prev_hash
    )
    s.execute(EVENTS.update().where(EVENTS.c.id == row.id).values(data=data, hash=digest))
    return f"edit+rehash {row.case_id}/{row.seq}"


def _delete(s: Session, rng: random.Random, rows: list[CaseEvent]) -> str:
    row = rng.choice(rows)
    s.execute(EVENTS.delete().where(EVENTS.c.id == row.id))
    return f"delete {row.case_id}/{row.seq}"


def _pair(rng: random.Random, rows: list[CaseEvent]) -> tuple[CaseEvent, CaseEvent]:
    case_id = rng.choice(sorted({r.case_id for r in rows}))
    a, b = rng.sample([r for r in rows if r.case_id == case_id], 2)
    return a, b


def _swap_seq(s: Session, rng: random.Random, rows: list[CaseEvent]) -> str:
    a, b = _pair(rng, rows)
    s.execute(EVENTS.update().where(EVENTS.c.id == a.id).values(seq=-1))
    s.execute(EVENTS.update().where(EVENTS.c.id == b.id).values(seq=a.seq))
    s.execute(EVENTS.update().where(EVENTS.c.id == a.id).values(seq=b.seq))
    return f"swap seq {a.case_id}/{a.seq}<->{b.seq}"


def _swap_rows(s: Session, rng: random.Random, rows: list[CaseEvent]) -> str:
    a, b = _pair(rng, rows)
    fields = ("type", "actor_id", "role", "data", "at", "prev_hash", "hash")
    s.execute(EVENTS.update().where(EVENTS.c.id == a.id).values(seq=-1))
    s.execute(
        EVENTS.update().where(EVENTS.c.id == b.id).values(seq=a.seq, **{f: getattr(a, f) for f in fields})
    )
    s.execute(
        EVENTS.update().where(EVENTS.c.id == a.id).values(seq=b.seq, **{f: getattr(b, f) for f in fields})
    )
    return f"reorder rows {a.case_id}/{a.seq}<->{b.seq}"


def _move(s: Session, rng: random.Random, rows: list[CaseEvent]) -> str:
    row = rng.choice(rows)
    other = rng.choice(sorted({r.case_id for r in rows} - {row.case_id}))
    top = max(r.seq for r in rows if r.case_id == other)
    s.execute(EVENTS.update().where(EVENTS.c.id == row.id).values(case_id=other, seq=top + 1))
    return f"move {row.case_id}/{row.seq} to {other}"


TAMPERINGS = [
    _edit("data", lambda d: {**d, "x": 1} if isinstance(d, dict) else {"x": 1}),
    _edit("type", lambda t: f"{t}x"),
    _edit("at", lambda a: float(a) + 1.0),  # type: ignore[arg-type]
    _edit("role", lambda r: "center_admin" if r != "center_admin" else "clerk"),
    _edit("actor_id", lambda a: None if a is not None else 1),
    _edit_and_rehash,
    _delete,
    _swap_seq,
    _swap_rows,
    _move,
]


def test_verify_catches_every_randomized_tampering(engine: sa.Engine) -> None:
    _cases(engine)
    with Session(engine) as s:
        assert ledger.verify(s).ok
        assert (
            ledger.verify(s).events == 4 + 6 + 7 + 8
        )  # submitted + moves (the 办结 decision adds concluded)
    rng = random.Random(20261128)
    missed: list[str] = []
    for _ in range(200):
        with Session(engine) as s:
            rows = list(s.exec(select(CaseEvent).order_by(col(CaseEvent.id))))
            what = rng.choice(TAMPERINGS)(s, rng, rows)
            s.expire_all()
            report = ledger.verify(s)
            if report.ok:
                missed.append(what)
            s.rollback()
    assert missed == []
    with Session(engine) as s:
        assert ledger.verify(s).ok
        case = s.exec(select(Case)).first()
        assert case is not None
        assert ledger.verify(s, [case.id or 0]).cases == 1
