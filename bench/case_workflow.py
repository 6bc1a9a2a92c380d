"""Case workflow at scale: 1,000,000 cases in PostgreSQL; p95 of one transition and of loading a work queue,
each next to the same work done as hand-written SQL (the baseline). Goal: ≤ 50 ms each.

Generation: the Ningxia tree, an item with a 受理 → 审核 → 审批 → 办结 process in every county, and N cases
spread over the 22 counties in a mix of states (10 % submitted, 40 % waiting for review, 20 % waiting for
approval, 15 % not accepted, 15 % evaluated) with valid hash-chained ledgers and their tasks, written with COPY.

Transition: a reviewer of 兴庆区 approves the review step of a case (engine + ledger + recomputed deadlines and
tasks + commit), each sample on another case. Baseline: the same reads and writes as plain SQL (case row,
ledger, insert the event, update the case and its tasks, commit).
Work queue: the reviewer's open tasks, most urgent 50 (the ``/api/v1/tasks/mine`` function, with its count and
flags). Baseline: the same SELECTs as plain SQL.

    python -m bench.case_workflow [--cases 1000000] [--samples 300]
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import hashlib
import json
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

import psycopg
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from coordinator import db
from coordinator.api.case_workflow import my_tasks
from coordinator.api.principal import Principal
from coordinator.cases import workflow as case_workflow
from coordinator.cases.hooks import CaseHooks
from tests.support import PostgresCluster
from workflow import catalog, process
from workflow.case_engine import Command
from workflow.case_states import Action
from workflow.cases import GENESIS
from workflow.catalog import ItemContent
from workflow.catalog import Material as Required
from workflow.codes import Level, Role
from workflow.ledger import event_hash
from workflow.org import Department, OrgUnit
from workflow.scope import Scope
from workflow.seed import seed_ningxia
from workflow.staff import Staff, join_roles

STEPS = [
    {"key": "accept", "kind": "受理", "name": "受理", "role": "clerk", "time_limit": 0},
    {"key": "review", "kind": "审核", "name": "审核", "role": "reviewer", "time_limit": 5, "after": ["accept"]},
    {"key": "approve", "kind": "审批", "name": "审批", "role": "approver", "time_limit": 5, "after": ["review"]},
    {"key": "done", "kind": "办结", "name": "办结", "role": "clerk", "time_limit": 0, "after": ["approve"]},
]  # fmt: skip
MIX = [("submitted", 10), ("review", 40), ("approve", 20), ("not_accepted", 15), ("evaluated", 15)]


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1] * 1000


def world(engine: Engine) -> dict[str, Any]:
    with Session(engine, expire_on_commit=False) as s:
        seed_ningxia(s)
        counties = list(s.exec(select(OrgUnit).where(OrgUnit.level == int(Level.COUNTY))))
        places = []
        for unit in counties:
            dept = Department(unit_id=unit.id or 0, code="SCJG", name="市场监督管理局")
            s.add(dept)
            s.flush()
            content = ItemContent(name=f"{unit.name}个体工商户登记", item_type="01", level=Level.COUNTY,
                                  statutory_limit=20, promised_limit=10, materials=[Required(name="身份证明")])  # fmt: skip
            _, version = catalog.create_item(s, f"IMPL-{unit.code}", "B", unit.id or 0, dept.id or 0, content)
            process.set_template(s, version, process.ProcessDefinition.model_validate({"steps": STEPS}))
            catalog.publish(s, version, dt.date(2024, 1, 1), None)
            places.append((unit.id, dept.id, version.id, unit.code))
        staff = {}
        xingqing = next(p for p in places if p[3] == "640104000000")
        for role in (Role.CLERK, Role.REVIEWER):
            row = Staff(employee_no=f"bench-{role}", name=str(role), unit_id=xingqing[0] or 0,
                        department_id=xingqing[1], roles=join_roles([role]))  # fmt: skip
            s.add(row)
            s.flush()
            staff[role] = row
        s.commit()
        return {"places": places, "staff": staff, "xingqing": xingqing}


CASE_COLUMNS = (
    "id, code, unit_id, department_id, item_version_id, title, applicant_name, applicant_id_number, status, "
    "opened_by, opened_at, applicant_phone, channel, state, outcome, accepted_on, due_promised, due_statutory, "
    "due_next, flag, ledger_seq, ledger_head, updated_at"
)
EVENT_COLUMNS = "case_id, seq, type, actor_id, role, data, at, prev_hash, hash"
TASK_COLUMNS = "case_id, step_key, name, role, unit_id, department_id, status, since, due"
CHINA = dt.timezone(dt.timedelta(hours=8))


def _chain(kind: str, version_id: int) -> list[tuple[str, dict[str, Any]]]:
    chain: list[tuple[str, dict[str, Any]]] = [
        ("submitted", {"channel": "1", "window_id": None, "item_version_id": version_id})
    ]
    if kind == "not_accepted":
        return [*chain, ("not_accepted", {"reason": "不属于本机关职权范围"})]
    if kind == "submitted":
        return chain
    chain.append(("accepted", {"step": "accept", "opinion": ""}))
    for key in ["review", "approve", "done"][: {"review": 0, "approve": 1, "evaluated": 3}[kind]]:
        chain.append(("step_completed", {"step": key, "decision": "approve", "opinion": ""}))
    if kind == "evaluated":
        chain += [
            ("concluded", {"outcome": "approved", "step": "done", "opinion": ""}),
            ("result_ready", {"delivery": "pickup", "window_id": None, "outcome": "approved"}),
            ("delivered", {"how": "picked_up"}),
            ("evaluated", {"score": 5, "comment": ""}),
        ]
    return chain


def _tsv(row: tuple[Any, ...]) -> str:
    return "\t".join("\\N" if v is None else str(v) for v in row) + "\n"


def generate(url: str, w: dict[str, Any], n: int, chunk: int = 50_000) -> float:
    """COPY ``n`` cases with their ledgers and tasks, ``chunk`` cases at a time; returns the seconds it took.

    Each event's hash is the ledger's own (the canonical text is assembled directly — checked against
    :func:`workflow.ledger.event_hash` — because json.dumps per event would dominate the run).
    """
    started = time.perf_counter()
    rng = random.Random(7)
    kinds = [k for k, weight in MIX for _ in range(weight)]
    clerk = w["staff"][Role.CLERK].id
    base = dt.datetime(2026, 1, 5, 10, tzinfo=CHINA).timestamp()
    keys = ["accept", "review", "approve", "done", "_result", "_deliver"]
    statuses = {"submitted": ["open"], "not_accepted": ["done"], "review": ["done", "open"],
                "approve": ["done", "done", "open"], "evaluated": ["done"] * 6}  # fmt: skip
    dumps = functools.partial(json.dumps, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    chains = {
        (kind, p[2]): [(t, d, dumps(d)) for t, d in _chain(kind, p[2])]
        for kind, _ in MIX
        for p in w["places"]
    }
    checked = 0
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn, conn.cursor() as cur:
        cur.execute("SET session_replication_role = replica")  # no FK triggers while loading
        for first in range(1, n + 1, chunk):
            cases: list[str] = []
            events: list[str] = []
            tasks: list[str] = []
            for case_id in range(first, min(first + chunk, n + 1)):
                unit_id, dept_id, version_id, _ = w["places"][case_id % len(w["places"])]
                kind = rng.choice(kinds)
                at = base + rng.uniform(0, 300 * 86400)
                day = dt.datetime.fromtimestamp(at, CHINA).date()
                prev = GENESIS
                chain = chains[(kind, version_id)]
                for seq, (type_, data, text) in enumerate(chain, 1):
                    body = f'[{case_id},{seq},"{type_}",{clerk},"clerk",{text},"{at!r}","{prev}"]'
                    digest = hashlib.sha256(body.encode()).hexdigest()
                    if checked < 100:
                        assert digest == event_hash(case_id, seq, type_, clerk, "clerk", data, at, prev)
                        checked += 1
                    events.append(_tsv((case_id, seq, type_, clerk, "clerk", text, repr(at), prev, digest)))
                    prev = digest
                due = day + dt.timedelta(days=rng.randint(1, 20))
                final = kind in ("not_accepted", "evaluated")
                accepted = None if kind in ("submitted", "not_accepted") else day
                cases.append(_tsv((
                    case_id, f"B{case_id:010d}", unit_id, dept_id, version_id, "个体工商户登记", "张三", "",
                    "closed" if final else "open", clerk, repr(at), "13800000000", "1",
                    {"review": "in_progress", "approve": "in_progress"}.get(kind, kind),
                    "approved" if kind == "evaluated" else None, accepted, due if accepted else None,
                    due if accepted else None, None if final else due, "green", len(chain), prev, repr(at),
                )))  # fmt: skip
                for key, st in zip(keys, statuses[kind], strict=False):
                    role = {"review": "reviewer", "approve": "approver"}.get(key, "clerk")
                    tasks.append(_tsv((case_id, key, key, role, unit_id, dept_id, st, day,
                                       due if st == "open" else None)))  # fmt: skip
            for table, columns, rows in (("case_file", CASE_COLUMNS, cases), ("case_event", EVENT_COLUMNS, events),
                                         ("case_task", TASK_COLUMNS, tasks)):  # fmt: skip
                with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    copy.write("".join(rows))
            conn.commit()
        cur.execute("SELECT setval('case_file_id_seq', %s)", (n,))
        conn.commit()
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as c2:
        c2.execute("VACUUM ANALYZE")  # what autovacuum does after a load: index-only scans can skip the heap
    return time.perf_counter() - started


def timed(fn: Callable[[], object], samples: int) -> list[float]:
    out = []
    for _ in range(samples):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def pending_reviews(url: str, unit_id: int, limit: int) -> list[int]:
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        rows = conn.execute(
            "SELECT case_id FROM case_task WHERE status = 'open' AND step_key = 'review' AND unit_id = %s "
            "ORDER BY case_id LIMIT %s", (unit_id, limit),
        ).fetchall()  # fmt: skip
    return [r[0] for r in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=300)
    args = parser.parse_args()
    cluster = PostgresCluster()
    cluster.start()
    try:
        url = cluster.create_database("bench_cases")
        engine = db.make_engine(url)
        db.migrate(engine)
        w = world(engine)
        seconds = generate(url, w, args.cases)
        print(f"generated {args.cases:,} cases with ledgers and tasks in {seconds:.0f} s")
        run(engine, url, w, args.samples)
    finally:
        cluster.stop()


def run(engine: Engine, url: str, w: dict[str, Any], samples: int) -> None:
    unit_id = w["xingqing"][0]
    targets = pending_reviews(url, unit_id, 2 * samples + 20)
    with Session(engine) as s:
        reviewer = s.get(Staff, w["staff"][Role.REVIEWER].id)
        assert reviewer is not None
        scope = Scope.of(s, reviewer)
        principal = Principal(reviewer, scope)
    hooks = CaseHooks()
    ours_cases, raw_cases = iter(targets[: samples + 10]), iter(targets[samples + 10 :])
    decide = Command(action=Action.DECIDE, step="review", decision="approve", opinion="同意")

    def transition() -> None:
        with Session(engine) as s:
            case_workflow.act(s, hooks, scope, next(ours_cases), decide)

    raw = psycopg.connect(url.replace("postgresql+psycopg", "postgresql"))

    def raw_transition() -> None:
        case_id = next(raw_cases)
        with raw.transaction():
            seq, head = raw.execute("SELECT ledger_seq, ledger_head FROM case_file WHERE id = %s",
                                    (case_id,)).fetchone() or (0, "")  # fmt: skip
            raw.execute("SELECT * FROM case_event WHERE case_id = %s ORDER BY seq", (case_id,)).fetchall()
            raw.execute("SELECT * FROM case_task WHERE case_id = %s", (case_id,)).fetchall()
            data = json.dumps({"step": "review", "decision": "approve", "opinion": "同意"})
            digest = event_hash(case_id, seq + 1, "step_completed", reviewer.id, "reviewer", json.loads(data),
                                time.time(), head)  # fmt: skip
            raw.execute("INSERT INTO case_event (case_id, seq, type, actor_id, role, data, at, prev_hash, hash) "
                        "VALUES (%s, %s, 'step_completed', %s, 'reviewer', %s, %s, %s, %s)",
                        (case_id, seq + 1, reviewer.id, data, time.time(), head, digest))  # fmt: skip
            raw.execute("UPDATE case_file SET ledger_seq = %s, ledger_head = %s, due_next = due_next, "
                        "updated_at = %s WHERE id = %s", (seq + 1, digest, time.time(), case_id))  # fmt: skip
            raw.execute("UPDATE case_task SET status = 'done', due = NULL WHERE case_id = %s AND step_key = "
                        "'review'", (case_id,))  # fmt: skip
            raw.execute("INSERT INTO case_task (case_id, step_key, name, role, unit_id, department_id, status, "
                        "since, due) VALUES (%s, 'approve', 'approve', 'approver', %s, NULL, 'open', "
                        "current_date, current_date + 5)", (case_id, unit_id))  # fmt: skip

    def queue() -> None:
        with Session(engine) as s:
            page = my_tasks(principal, s, limit=50, offset=0)
            assert page.data

    scoped = (
        "FROM case_task t WHERE t.status = 'open' AND t.role = ANY(%(roles)s) "
        "AND t.unit_id IN (SELECT id FROM org_unit WHERE path LIKE %(path)s) "
        "AND (t.department_id IN (SELECT id FROM org_department WHERE code = %(code)s) OR t.department_id IS NULL)"
    )
    params = {"roles": ["reviewer"], "path": scope.unit_path + "%", "code": scope.department_code}

    def raw_queue() -> None:
        with raw.transaction():
            ids = [r[0] for r in raw.execute(f"SELECT t.id {scoped} ORDER BY t.due NULLS LAST, t.id LIMIT 50",
                                             params).fetchall()]  # fmt: skip
            rows = raw.execute("SELECT * FROM case_task WHERE id = ANY(%s)", (ids,)).fetchall()
            raw.execute(f"SELECT count(t.id) {scoped}", params).fetchone()
            raw.execute("SELECT * FROM case_file WHERE id = ANY(%s)", ([r[1] for r in rows],)).fetchall()

    for fn in (queue, raw_queue):  # warm caches and plans
        timed(fn, 5)
    results = {
        "transition": (timed(transition, samples), timed(raw_transition, samples)),
        "work queue": (timed(queue, samples), timed(raw_queue, samples)),
    }
    raw.close()
    print(f"{'':12} {'ours p95':>10} {'raw SQL p95':>12} {'ratio':>6}   goal ≤ 50 ms")
    for name, (ours, base) in results.items():
        a, b = p95(ours), p95(base)
        print(f"{name:12} {a:8.1f} ms {b:10.1f} ms {a / b:6.1f}×  {'ok' if a <= 50 else 'MISSED'}")


if __name__ == "__main__":
    main()
