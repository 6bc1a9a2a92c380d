"""Monitoring wall: wall_group (camera groups), wall_tour (groups in rotation), wall (grid, spans, panels).

Revision ID: 0400
Revises: 0001
Create Date: 2026-11-28 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import coordinator.models.wall  # noqa: F401  (registers the wall tables on SQLModel.metadata)

revision: str = "0400"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("wall",)
depends_on: str | Sequence[str] | None = None


def _s(n: int) -> sqlmodel.AutoString:
    return sqlmodel.AutoString(length=n)


def upgrade() -> None:
    op.create_table(
        "wall_group",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", _s(64), nullable=False, unique=True),
        sa.Column("cameras", sa.JSON(), nullable=False),
    )
    op.create_table(
        "wall_tour",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", _s(64), nullable=False, unique=True),
        sa.Column("dwell_s", sa.Float(), nullable=False),
        sa.Column("group_ids", sa.JSON(), nullable=False),
    )
    op.create_table(
        "wall",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", _s(64), nullable=False, unique=True),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("cols", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), sa.ForeignKey("wall_group.id"), nullable=True),
        sa.Column("tour_id", sa.Integer(), sa.ForeignKey("wall_tour.id"), nullable=True),
        sa.Column("canvas_width", sa.Integer(), nullable=False),
        sa.Column("canvas_height", sa.Integer(), nullable=False),
        sa.Column("panel_rows", sa.Integer(), nullable=False),
        sa.Column("panel_cols", sa.Integer(), nullable=False),
        sa.Column("spans", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("wall")
    op.drop_table("wall_tour")
    op.drop_table("wall_group")
