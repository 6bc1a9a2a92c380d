"""`hallmesh audit verify` on a real database: intact chains pass; an edited event fails naming the case and
the event (the CLI reads the same ledger the coordinator writes)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from hallmesh_cli.procs import hallmesh_argv
from tests.workflow.case_world import SIMPLE, at, build
from workflow import case_engine


@pytest.fixture
def session(engine: sa.Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as s:
        yield s


def audit(db_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        hallmesh_argv("audit", "verify", "--json", "--database-url", db_url),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_audit_verify_passes_intact_chains_and_names_an_edit(
    session: Session, engine: sa.Engine, db_url: str
) -> None:
    world = build(session)
    version = world.item(session, SIMPLE)
    case = world.new_case("county", version)
    case_engine.submit(session, case, world.staff["clerk"].id, "clerk", at("2025-09-25"))
    session.commit()
    ok = audit(db_url)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert json.loads(ok.stdout)["ok"] is True
    with engine.begin() as conn:  # someone edits the stored event behind the application's back
        conn.execute(sa.text("UPDATE case_event SET role = 'approver' WHERE case_id = :c"), {"c": case.id})
    broken = audit(db_url)
    assert broken.returncode == 1
    report = json.loads(broken.stdout)
    assert report["break"]["case_id"] == case.id
    assert report["break"]["seq"] == 1
    assert "被改动" in report["break"]["reason"]
