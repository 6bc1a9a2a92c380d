"""SQL of the ingest writer: dialect-aware upserts and the statements a batch executes (Core, executemany)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from coordinator.models import Agent, CommandResult, CommandRow, Device, Event

AGENTS: sa.Table = Agent.__table__  # type: ignore[attr-defined]
DEVICES: sa.Table = Device.__table__  # type: ignore[attr-defined]
EVENTS: sa.Table = Event.__table__  # type: ignore[attr-defined]
COMMANDS: sa.Table = CommandRow.__table__  # type: ignore[attr-defined]
RESULTS: sa.Table = CommandResult.__table__  # type: ignore[attr-defined]


def dialect_insert(conn: sa.Connection, table: sa.Table) -> Any:
    """INSERT with ON CONFLICT support for the connection's dialect (PostgreSQL or SQLite)."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def upsert(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    keys = [c.name for c in table.primary_key.columns]
    stmt = dialect_insert(conn, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=keys, set_={c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
    )
    conn.execute(stmt, rows)


UPDATE_COMMAND = (
    sa.update(COMMANDS)
    .where(
        COMMANDS.c.cmd_id == sa.bindparam("b_cmd_id"),
        COMMANDS.c.agent_id == sa.bindparam("b_agent_id"),
        # open, or expired by our clock (the agent's own answer wins); no IN list: it cannot be executemany'd
        sa.or_(*(COMMANDS.c.status == s for s in ("pending", "sent", "expired"))),
    )
    .values(
        status=sa.bindparam("b_status"),
        result=sa.bindparam("b_result", type_=sa.JSON),
        error=sa.bindparam("b_error"),
        finished_at=sa.bindparam("b_finished_at"),
    )
)
