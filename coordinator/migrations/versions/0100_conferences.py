"""Conferences of video terminals: conference, conference_participant.

Revision ID: 0100
Revises: 0001
Create Date: 2026-11-28 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0100"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("conferences",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "conference",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("address", sa.String(128), nullable=False),
        sa.Column("start_at", sa.Float(), nullable=False),
        sa.Column("end_at", sa.Float(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=True),
        sa.Column("ended_at", sa.Float(), nullable=True),
    )
    op.create_index("ix_conference_status_start_at", "conference", ["status", "start_at"])
    op.create_table(
        "conference_participant",
        sa.Column(
            "conference_id",
            sa.Uuid(),
            sa.ForeignKey("conference.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("agent_id", sa.String(64), primary_key=True),
        sa.Column("device_id", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("muted", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("drops", sa.Integer(), nullable=False),
        sa.Column("cmd_id", sa.Uuid(), nullable=True),
        sa.Column("next_dial_at", sa.Float(), nullable=True),
        sa.Column("joined_at", sa.Float(), nullable=True),
        sa.Column("connected_since", sa.Float(), nullable=True),
        sa.Column("changed_at", sa.Float(), nullable=True),
        sa.Column("last_error", sa.String(1024), nullable=True),
    )
    op.create_index("ix_conference_participant_terminal", "conference_participant", ["agent_id", "device_id"])


def downgrade() -> None:
    op.drop_index("ix_conference_participant_terminal", "conference_participant")
    op.drop_table("conference_participant")
    op.drop_index("ix_conference_status_start_at", "conference")
    op.drop_table("conference")
