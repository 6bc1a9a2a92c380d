"""Case workflow: the hash-chained event ledger, tasks, the working-day calendar (seeded), derived case columns.

Revision ID: 0600
Revises: 0500
Create Date: 2026-11-28 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
import sqlmodel
from alembic import op

from workflow.calendar import seed_rows

revision: str = "0600"
down_revision: str | None = "0500"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS = "0" * 64


def _s(n: int) -> sqlmodel.AutoString:
    return sqlmodel.AutoString(length=n)


_CASE_COLUMNS: list[sa.Column[Any]] = [
    sa.Column("applicant_phone", _s(20), nullable=False, server_default=""),
    sa.Column("channel", _s(2), nullable=False, server_default="1"),
    sa.Column("state", _s(24), nullable=False, server_default="submitted"),
    sa.Column("outcome", _s(16), nullable=True),
    sa.Column("accepted_on", sa.Date(), nullable=True),
    sa.Column("due_promised", sa.Date(), nullable=True),
    sa.Column("due_statutory", sa.Date(), nullable=True),
    sa.Column("due_next", sa.Date(), nullable=True),
    sa.Column("flag", _s(8), nullable=False, server_default="green"),
    sa.Column("ledger_seq", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("ledger_head", _s(64), nullable=False, server_default=GENESIS),
    sa.Column("updated_at", sa.Float(), nullable=True),
]


def upgrade() -> None:
    with op.batch_alter_table("case_file") as batch:
        for column in _CASE_COLUMNS:
            batch.add_column(column)
        batch.create_index("ix_case_file_state", ["state"])
    with op.batch_alter_table("case_material") as batch:
        batch.add_column(sa.Column("slot", _s(200), nullable=True))
    op.create_table(
        "case_event",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("case_file.id"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("type", _s(32), nullable=False),
        sa.Column("actor_id", sa.Integer(), sa.ForeignKey("staff.id"), nullable=True),
        sa.Column("role", _s(16), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("prev_hash", _s(64), nullable=False),
        sa.Column("hash", _s(64), nullable=False),
        sa.UniqueConstraint("case_id", "seq", name="uq_case_event_seq"),
    )
    op.create_table(
        "case_task",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("case_file.id"), nullable=False),
        sa.Column("step_key", _s(32), nullable=False),
        sa.Column("name", _s(64), nullable=False),
        sa.Column("role", _s(16), nullable=False),
        sa.Column("unit_id", sa.Integer(), sa.ForeignKey("org_unit.id"), nullable=False),
        sa.Column("department_id", sa.Integer(), sa.ForeignKey("org_department.id"), nullable=True),
        sa.Column("status", _s(12), nullable=False),
        sa.Column("since", sa.Date(), nullable=False),
        sa.Column("due", sa.Date(), nullable=True),
        sa.UniqueConstraint("case_id", "step_key", name="uq_case_task_step"),
    )
    op.create_index(
        "ix_case_task_open", "case_task", ["role", "unit_id", "due", "id", "department_id"],
        postgresql_where=sa.text("status = 'open'"), sqlite_where=sa.text("status = 'open'"),
    )  # fmt: skip
    calendar = op.create_table(
        "calendar_day",
        sa.Column("region", _s(12), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("working", sa.Boolean(), nullable=False),
        sa.Column("name", _s(64), nullable=False),
        sa.Column("source", _s(16), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
    )
    op.bulk_insert(calendar, seed_rows())


def downgrade() -> None:
    for name in ("calendar_day", "case_task", "case_event"):
        op.drop_table(name)
    with op.batch_alter_table("case_material") as batch:
        batch.drop_column("slot")
    with op.batch_alter_table("case_file") as batch:
        batch.drop_index("ix_case_file_state")
        for column in _CASE_COLUMNS:
            batch.drop_column(column.name)
