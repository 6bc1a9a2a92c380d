"""``hallmesh audit verify``: check the hash chain of every case's event ledger (or of some cases).

Reads the coordinator's database directly (``--database-url``, else ``HALLMESH_DATABASE_URL``, else the SQLite
file in ``HALLMESH_DATA_DIR``). Exit 0 when every chain is intact, 1 at the first broken link (printed with
the case, the event number and what is wrong: an edit, a deletion or a reordering), 2 when the database
cannot be read.
"""

from __future__ import annotations

import argparse
import json


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = sub.add_parser("audit", help="审计 audit: verify the hash-chained case ledger")
    actions = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    verify = actions.add_parser(
        "verify", help="find any edit, deletion or reordering of case events (exit 1 at the first one)"
    )
    verify.add_argument(
        "--database-url", default=None, help="default: HALLMESH_DATABASE_URL or the data dir's SQLite"
    )
    verify.add_argument("--case", type=int, action="append", help="only this case id (repeatable)")
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.set_defaults(func=_verify)


def _verify(args: argparse.Namespace) -> int:
    import sqlalchemy as sa
    from sqlmodel import Session

    from coordinator import db
    from hallmesh_cli.org_cmd import default_database_url
    from workflow import ledger

    url = args.database_url or default_database_url()
    try:
        engine = db.make_engine(url)
        with Session(db.reader(engine)) as session:
            report = ledger.verify(session, args.case)
    except sa.exc.SQLAlchemyError as err:
        print(
            f"error: cannot read the case ledger at {engine.url.render_as_string(hide_password=True)}: {err}"
        )
        return 2
    finally:
        engine.dispose()
    brk = report.first_break
    if args.json:
        out: dict[str, object] = {"ok": report.ok, "cases": report.cases, "events": report.events}
        if brk is not None:
            out["break"] = {"case_id": brk.case_id, "seq": brk.seq, "reason": brk.reason}
        print(json.dumps(out, ensure_ascii=False))
    elif brk is None:
        print(f"ok: {report.cases} cases, {report.events} events, every chain intact (链完整)")
    else:
        print(f"BROKEN: case {brk.case_id}, event {brk.seq}: {brk.reason}")
    return 0 if report.ok else 1
