"""The case ledger: every event of a case, append-only and hash-chained.

An event's ``hash`` is the sha256 of its canonical content (case, seq, type, actor, role, data, time) and of the
previous event's hash (``prev_hash``; :data:`~workflow.cases.GENESIS` for the first). ``(case_id, seq)`` is
unique, so two writers that both saw seq *n* cannot both append *n + 1*: one of them fails and retries against
the new state (optimistic concurrency). The case row keeps the newest ``seq`` and ``hash`` (its head), so
dropping the last events is detected too.

:func:`verify` walks chains and reports the first broken link: an edited event (its hash no longer matches),
a deleted or reordered one (a seq gap, or a ``prev_hash`` that is not the previous event's hash), or a head
that does not match the chain's end.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, Session, SQLModel, col, select
from sqlmodel.sql.expression import SelectOfScalar

from workflow.cases import GENESIS, Case


class CaseEvent(SQLModel, table=True):
    __tablename__ = "case_event"
    __table_args__ = (sa.UniqueConstraint("case_id", "seq", name="uq_case_event_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case_file.id")
    seq: int
    type: str = Field(max_length=32)
    actor_id: int | None = Field(default=None, foreign_key="staff.id")
    role: str = Field(default="", max_length=16)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    at: float
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


def event_hash(case_id: int, seq: int, type_: str, actor_id: int | None, role: str, data: dict[str, Any],
               at: float, prev_hash: str) -> str:  # fmt: skip
    body = [case_id, seq, type_, actor_id, role, data, repr(float(at)), prev_hash]
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def append(session: Session, case: Case, type_: str, actor_id: int | None, role: str, data: dict[str, Any],
           at: float | None = None) -> CaseEvent:  # fmt: skip
    """Add the next event of ``case`` (flushed: a concurrent append of the same seq fails here or at commit)."""
    assert case.id is not None
    at = time.time() if at is None else at
    seq = case.ledger_seq + 1
    digest = event_hash(case.id, seq, type_, actor_id, role, data, at, case.ledger_head)
    event = CaseEvent(case_id=case.id, seq=seq, type=type_, actor_id=actor_id, role=role, data=data, at=at,
                      prev_hash=case.ledger_head, hash=digest)  # fmt: skip
    session.add(event)
    case.ledger_seq, case.ledger_head = seq, digest
    session.add(case)
    session.flush()
    return event


def events(session: Session, case_id: int) -> list[CaseEvent]:
    query = select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(col(CaseEvent.seq))
    return list(session.exec(query))


@dataclass(frozen=True)
class Break:
    case_id: int
    seq: int
    reason: str


def verify_chain(case_id: int, chain: Sequence[CaseEvent], head_seq: int, head_hash: str) -> Break | None:
    """The first broken link of one case's events (in stored order), or None when the chain is intact."""
    prev, expected = GENESIS, 1
    for e in chain:
        if e.seq != expected:
            return Break(case_id, expected, f"第 {expected} 条事件缺失或顺序被改动（见到第 {e.seq} 条）")
        if e.prev_hash != prev:
            return Break(case_id, e.seq, f"第 {e.seq} 条事件的前序哈希与第 {e.seq - 1} 条不符（删除或重排）")
        actual = event_hash(case_id, e.seq, e.type, e.actor_id, e.role, e.data, e.at, e.prev_hash)
        if actual != e.hash:
            return Break(case_id, e.seq, f"第 {e.seq} 条事件的内容被改动（哈希不符）")
        prev, expected = e.hash, expected + 1
    if head_seq != expected - 1 or head_hash != prev:
        return Break(
            case_id, expected, f"链尾与办件记录不符（应到第 {head_seq} 条，实到第 {expected - 1} 条）"
        )
    return None


@dataclass(frozen=True)
class Report:
    cases: int
    events: int
    first_break: Break | None

    @property
    def ok(self) -> bool:
        return self.first_break is None


def _chains(
    session: Session, cases: SelectOfScalar[Case], batch: int
) -> Iterator[tuple[Case, list[CaseEvent]]]:
    last = 0
    while True:
        page = list(session.exec(cases.where(col(Case.id) > last).order_by(col(Case.id)).limit(batch)))
        if not page:
            return
        ids = [c.id for c in page]
        rows = session.exec(
            select(CaseEvent).where(col(CaseEvent.case_id).in_(ids)).order_by(col(CaseEvent.case_id),
                                                                             col(CaseEvent.id))
        )  # fmt: skip
        by_case: dict[int, list[CaseEvent]] = {}
        for row in rows:
            by_case.setdefault(row.case_id, []).append(row)
        for c in page:
            assert c.id is not None
            yield c, by_case.get(c.id, [])
        last = page[-1].id or 0


def verify(session: Session, case_ids: Iterable[int] | None = None, batch: int = 500,
           cases: SelectOfScalar[Case] | None = None) -> Report:  # fmt: skip
    """Check the chains of ``case_ids`` or of the cases ``cases`` selects (default: every case), each in stored
    (insertion) order; stops at the first broken link."""
    query = cases if cases is not None else select(Case)
    if case_ids is not None:
        query = query.where(col(Case.id).in_(list(case_ids)))
    n_cases = n_events = 0
    for case, chain in _chains(session, query, batch):
        assert case.id is not None
        n_cases += 1
        n_events += len(chain)
        found = verify_chain(case.id, chain, case.ledger_seq, case.ledger_head)
        if found is not None:
            return Report(n_cases, n_events, found)
    return Report(n_cases, n_events, None)
