"""Database engines and migrations.

SQLite (default) runs in WAL mode with ``synchronous=NORMAL`` and foreign keys on; every transaction starts
with ``BEGIN IMMEDIATE`` so a reader never has to upgrade to a writer mid-transaction (which WAL answers with an
immediate SQLITE_BUSY, not a wait). ``postgresql+psycopg://…`` selects PostgreSQL.
Migrations (Alembic, ``coordinator/migrations``) run programmatically: :func:`migrate` = ``upgrade heads``
(each feature area may add its own branch of revisions on top of 0001; all heads are applied).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine
from sqlalchemy.engine.url import make_url

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 15_000


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" hook below issue BEGIN itself (pysqlite's own transaction handling is disabled).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    try:
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cur.close()


def _sqlite_on_begin(conn: sa.Connection) -> None:
    # Writers take the write lock up front (no deadlock-prone upgrade from a read). Readers marked with
    # READ_ONLY take a snapshot instead: in WAL mode they never wait for, nor hold up, a writer.
    if conn.get_execution_options().get(READ_ONLY):
        conn.exec_driver_sql("BEGIN DEFERRED")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


READ_ONLY = "hallmesh_read_only"


def reader(engine: Engine) -> Engine:
    """``engine`` for transactions that only read (same pool): on SQLite they do not take the write lock."""
    return engine.execution_options(**{READ_ONLY: True})


def make_engine(url: str) -> Engine:
    """An engine for ``url``; creates the parent directory of a SQLite file."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        )
        sa.event.listen(engine, "connect", _sqlite_on_connect)
        sa.event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision of every branch (``alembic upgrade heads``) on ``engine``."""
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")
    log.info("database schema at head (%s)", engine.url.get_backend_name())


def ping(engine: Engine) -> None:
    """Raise if the database cannot answer a trivial query."""
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))


def next_boot(engine: Engine) -> int:
    """Increment and return the coordinator's boot counter (the ``boot`` of its envelopes)."""
    from coordinator.models import CoordinatorMeta

    meta: sa.Table = CoordinatorMeta.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        current = conn.execute(sa.select(meta.c.value).where(meta.c.key == "boot")).scalar()
        if current is None:
            conn.execute(sa.insert(meta).values(key="boot", value=1))
            return 1
        conn.execute(sa.update(meta).where(meta.c.key == "boot").values(value=current + 1))
        return int(current) + 1
