"""Migrations on SQLite and PostgreSQL match the models; SQLite runs in WAL mode."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import coordinator.models  # noqa: F401
from coordinator import db


def test_migrations_match_models_and_are_idempotent(db_url: str) -> None:
    engine = db.make_engine(db_url)
    try:
        db.migrate(engine)
        db.migrate(engine)  # already at head: nothing to do
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(ctx, SQLModel.metadata) == []
        assert [db.next_boot(engine) for _ in range(3)] == [1, 2, 3]
    finally:
        engine.dispose()


def test_sqlite_pragmas(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'sub' / 'c.db'}")
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(sa.text("PRAGMA synchronous")).scalar() == 1  # NORMAL
            assert conn.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1
            assert conn.execute(sa.text("PRAGMA busy_timeout")).scalar() == db.SQLITE_BUSY_TIMEOUT_MS
    finally:
        engine.dispose()
