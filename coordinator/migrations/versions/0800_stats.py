"""Statistics: the daily pre-aggregate of the boards (stats_daily) and the boards' rules (stats_rules).

Revision ID: 0800
Revises: 0600
Create Date: 2026-11-28 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0800"
down_revision: str | None = "0600"
branch_labels: str | Sequence[str] | None = ("stats",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stats_daily",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("unit_id", sa.Integer(), sa.ForeignKey("org_unit.id"), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        *(
            sa.Column(name, sa.Integer(), nullable=False, server_default="0")
            for name in ("accepted", "concluded", "on_time", "overdue", "yellow_cards", "red_cards")
        ),
        sa.UniqueConstraint("day", "unit_id", "department_id", name="uq_stats_daily_key"),
    )
    op.create_index("ix_stats_daily_unit_day", "stats_daily", ["unit_id", "day"])
    op.create_table(
        "stats_rules",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("updated_by", sa.Integer(), sa.ForeignKey("staff.id"), nullable=True),
        sa.Column("updated_at", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("stats_rules")
    op.drop_index("ix_stats_daily_unit_day", table_name="stats_daily")
    op.drop_table("stats_daily")
