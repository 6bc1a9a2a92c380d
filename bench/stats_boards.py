"""Stats boards over N cases (default 1,000,000) in PostgreSQL: p95 of each board read from the daily
pre-aggregate (``stats_daily``, what the API serves) next to the same question asked of ``case_file`` (baseline).

Loads a throwaway PostgreSQL: the Ningxia tree plus townships (``--townships`` per county) so the board spans a
few hundred units, three departments per county; N cases accepted over the last 365 days, 88 % concluded within
0–30 days (promised limit 14, statutory 28 calendar days), written with COPY; their ``stats_daily`` rows
computed here (yellow window: 2 calendar days — the real listener counts working days) and COPYed too.

    python -m bench.stats_boards [--cases 1000000] [--samples 50]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

import psycopg
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from coordinator import db
from coordinator.stats import boards
from tests.support import PostgresCluster
from workflow.case_engine import CHINA, china_date
from workflow.codes import Level, Role
from workflow.org import Department, OrgUnit, add_unit
from workflow.scope import Scope
from workflow.seed import seed_ningxia
from workflow.staff import Staff, join_roles

CASE_COLUMNS = (
    "id, code, unit_id, department_id, title, applicant_name, applicant_id_number, status, opened_by, opened_at, "
    "applicant_phone, channel, state, outcome, accepted_on, due_promised, due_statutory, due_next, flag, "
    "ledger_seq, ledger_head, updated_at, closed_at"
)
STATS_COLUMNS = "day, unit_id, department_id, accepted, concluded, on_time, overdue, yellow_cards, red_cards"


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1] * 1000


def timed(fn: Callable[[], object], samples: int) -> list[float]:
    fn()  # warm
    out = []
    for _ in range(samples):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def world(engine: Engine, townships: int) -> tuple[list[tuple[int, int | None]], int, Scope]:
    """Places (unit, department) cases are filed at, a clerk's id, and the region-wide center admin's scope."""
    with Session(engine, expire_on_commit=False) as s:
        seed_ningxia(s)
        places: list[tuple[int, int | None]] = []
        for county in list(s.exec(select(OrgUnit).where(OrgUnit.level == int(Level.COUNTY)))):
            for code, name in (("SCJG", "市场监督管理局"), ("GA", "公安局"), ("ZJ", "住房和城乡建设局")):
                d = Department(unit_id=county.id or 0, code=code, name=name)
                s.add(d)
                s.flush()
                places.append((county.id or 0, d.id))
            for i in range(1, townships + 1):
                town = add_unit(
                    s, f"{county.code[:6]}{i:03d}000", f"{county.name}第{i}街道", Level.TOWNSHIP, county
                )
                places.append((town.id or 0, None))
        root = s.exec(select(OrgUnit).where(col(OrgUnit.parent_id).is_(None))).one()
        admin = Staff(employee_no="bench-admin", name="admin", unit_id=root.id or 0,
                      roles=join_roles([Role.CENTER_ADMIN]))  # fmt: skip
        s.add(admin)
        s.commit()
        return places, admin.id or 0, Scope.of(s, admin)


def _tsv(row: tuple[Any, ...]) -> str:
    return "\t".join("\\N" if v is None else str(v) for v in row) + "\n"


def _ts(day: dt.date, hour: int) -> float:
    return dt.datetime.combine(day, dt.time(hour), CHINA).timestamp()


def generate(url: str, places: list[tuple[int, int | None]], staff_id: int, n: int, today: dt.date,
             chunk: int = 100_000) -> tuple[float, int]:  # fmt: skip
    """COPY ``n`` cases and their ``stats_daily`` rows; returns (seconds, aggregate rows)."""
    started = time.perf_counter()
    rng = random.Random(11)
    agg: dict[tuple[dt.date, int, int], list[int]] = {}

    def bump(day: dt.date, unit: int, dept: int | None, idx: tuple[int, ...]) -> None:
        row = agg.setdefault((day, unit, dept or 0), [0] * 6)
        for i in idx:
            row[i] += 1

    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn, conn.cursor() as cur:
        cur.execute("SET session_replication_role = replica")  # no FK triggers while loading
        for first in range(1, n + 1, chunk):
            rows: list[str] = []
            for case_id in range(first, min(first + chunk, n + 1)):
                unit, dept = places[rng.randrange(len(places))]
                acc = today - dt.timedelta(days=rng.randrange(365))
                due_p, due_s = acc + dt.timedelta(days=14), acc + dt.timedelta(days=28)
                bump(acc, unit, dept, (0,))
                concl = acc + dt.timedelta(days=rng.randrange(31))
                closed = rng.random() < 0.88 and concl <= today
                outcome = None
                if closed:
                    outcome = "approved" if rng.random() < 0.9 else "denied"
                    on_time = concl <= due_p
                    idx = [1]
                    idx += [2] if on_time else [5]
                    idx += [4] if on_time and (due_p - concl).days <= 2 else []
                    idx += [3] if concl > due_s else []
                    bump(concl, unit, dept, tuple(idx))
                rows.append(_tsv((
                    case_id, f"S{case_id:010d}", unit, dept, "个体工商户登记", "张三", "",
                    "closed" if closed else "open", staff_id, repr(_ts(acc, 9)), "13800000000", "1",
                    "concluded" if closed else "in_progress", outcome, acc, due_p, due_s,
                    None if closed else due_p, "green", 2, "0" * 64, repr(_ts(concl if closed else acc, 15)),
                    repr(_ts(concl, 15)) if closed else None,
                )))  # fmt: skip
            with cur.copy(f"COPY case_file ({CASE_COLUMNS}) FROM STDIN") as copy:
                copy.write("".join(rows))
            conn.commit()
        with cur.copy(f"COPY stats_daily ({STATS_COLUMNS}) FROM STDIN") as copy:
            copy.write("".join(_tsv((d, u, dp, *c)) for (d, u, dp), c in agg.items()))
        cur.execute("SELECT setval('case_file_id_seq', %s)", (n,))
        conn.commit()
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as c2:
        c2.execute("VACUUM ANALYZE")
    return time.perf_counter() - started, len(agg)


RAW_PER_UNIT = """
SELECT unit_id, coalesce(department_id, 0) AS dept,
  count(*) FILTER (WHERE accepted_on BETWEEN %(a)s AND %(b)s) AS accepted,
  count(*) FILTER (WHERE done) AS concluded,
  count(*) FILTER (WHERE done AND closed_day <= due_promised) AS on_time,
  count(*) FILTER (WHERE done AND closed_day > due_statutory) AS overdue,
  count(*) FILTER (WHERE done AND closed_day <= due_promised AND due_promised - closed_day <= 2) AS yellow,
  count(*) FILTER (WHERE done AND closed_day > due_promised) AS red
FROM (
  SELECT *, (to_timestamp(closed_at) AT TIME ZONE 'Asia/Shanghai')::date AS closed_day,
    outcome IN ('approved', 'denied') AND closed_at >= %(t0)s AND closed_at < %(t1)s AS done
  FROM case_file
  WHERE accepted_on BETWEEN %(a)s AND %(b)s OR (closed_at >= %(t0)s AND closed_at < %(t1)s)
) c
GROUP BY 1, 2
"""
RAW_RANKING = (
    f"SELECT * FROM ({RAW_PER_UNIT}) r WHERE overdue > 0 OR red > 0 ORDER BY overdue DESC, red DESC LIMIT 20"
)
RAW_TREND = """
SELECT day, sum(accepted), sum(concluded), sum(overdue) FROM (
  SELECT accepted_on AS day, 1 AS accepted, 0 AS concluded, 0 AS overdue FROM case_file
  WHERE accepted_on BETWEEN %(a)s AND %(b)s
  UNION ALL
  SELECT (to_timestamp(closed_at) AT TIME ZONE 'Asia/Shanghai')::date, 0, 1,
    ((to_timestamp(closed_at) AT TIME ZONE 'Asia/Shanghai')::date > due_statutory)::int FROM case_file
  WHERE outcome IN ('approved', 'denied') AND closed_at >= %(t0)s AND closed_at < %(t1)s
) e GROUP BY day ORDER BY day
"""


def _raw(conn: psycopg.Connection[Any], sql: str, args: dict[str, Any]) -> Callable[[], object]:
    return lambda: conn.execute(sql, args).fetchall()


def run(engine: Engine, url: str, scope: Scope, today: dt.date, samples: int) -> None:
    month = today - dt.timedelta(days=29)

    def params(a: dt.date, b: dt.date) -> dict[str, Any]:
        return {"a": a, "b": b, "t0": _ts(a, 0), "t1": _ts(b + dt.timedelta(days=1), 0)}

    with Session(engine) as s, psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as raw:
        boards_: list[tuple[str, Callable[[], object], str, dict[str, Any]]] = [
            ("daily, today", lambda: boards.daily(s, scope, today, today), RAW_PER_UNIT, params(today, today)),
            ("daily, 30 days", lambda: boards.daily(s, scope, month, today), RAW_PER_UNIT, params(month, today)),
            ("trend, 30 days", lambda: boards.trend(s, scope, month, today), RAW_TREND, params(month, today)),
            ("overdue ranking, 30 days", lambda: boards.overdue_ranking(s, scope, month, today), RAW_RANKING,
             params(month, today)),
            ("honor roll, 30 days", lambda: boards.honor(s, scope, month, today), RAW_PER_UNIT, params(month, today)),
            ("exposure board, 30 days", lambda: boards.exposure(s, scope, month, today), RAW_PER_UNIT,
             params(month, today)),
        ]  # fmt: skip
        print(f"{'board (region-wide)':28} {'p95 pre-agg':>12} {'p95 raw':>10} {'raw/pre-agg':>12}")
        for name, fn, sql, args in boards_:
            fast = p95(timed(fn, samples))
            slow = p95(timed(_raw(raw, sql, args), max(5, samples // 5)))
            print(f"{name:28} {fast:9.1f} ms {slow:7.1f} ms {slow / fast:11.1f}×")
        s.rollback()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--townships", type=int, default=15)
    args = parser.parse_args()
    cluster = PostgresCluster()
    cluster.start()
    try:
        url = cluster.create_database("bench_stats")
        engine = db.make_engine(url)
        db.migrate(engine)
        places, staff_id, scope = world(engine, args.townships)
        today = china_date(time.time())
        seconds, rows = generate(url, places, staff_id, args.cases, today)
        print(
            f"loaded {args.cases:,} cases at {len(places)} places ({rows:,} stats_daily rows) in {seconds:.0f} s"
        )
        run(engine, url, scope, today, args.samples)
        engine.dispose()
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
