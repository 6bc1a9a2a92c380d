"""Mesh spine: agents, devices, events, commands, command results, coordinator meta.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "agent",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("boot", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("last_seen", sa.Float(), nullable=True),
        sa.Column("online_since", sa.Float(), nullable=True),
        sa.Column("birth_at", sa.Float(), nullable=True),
        sa.Column("outbox_depth", sa.BigInteger(), nullable=False),
        sa.Column("outbox_refused", sa.BigInteger(), nullable=False),
        sa.Column("outbox_epoch", sa.String(64), nullable=True),
        sa.Column("outbox_hwm", sa.BigInteger(), nullable=False),
        sa.Column("inventory_boot", sa.BigInteger(), nullable=False),
        sa.Column("inventory_seq", sa.BigInteger(), nullable=False),
        sa.Column("keepalive_s", sa.Integer(), nullable=False),
    )
    op.create_table(
        "device",
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("profile", sa.String(128), nullable=False),
        sa.Column("profile_version", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(1024), nullable=False),
        sa.Column("last_error", sa.String(1024), nullable=True),
        sa.Column("since", sa.Float(), nullable=True),
        sa.Column("updated_at", sa.Float(), nullable=True),
        sa.Column("capabilities", sa.JSON(), nullable=False),
        sa.Column("commands", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("agent_id", "device_id"),
        sa.ForeignKeyConstraint(["agent_id"], ["agent.id"], name="fk_device_agent", ondelete="CASCADE"),
    )
    op.create_table(
        "event",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("msg_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("boot", sa.BigInteger(), nullable=False),
        sa.Column("ts", sa.Float(), nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("received_at", sa.Float(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.UniqueConstraint("agent_id", "msg_id", name="uq_event_agent_msg"),
    )
    op.create_index("ix_event_agent_id_id", "event", ["agent_id", "id"])
    op.create_table(
        "command",
        sa.Column("cmd_id", sa.Uuid(), primary_key=True),
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("sent_at", sa.Float(), nullable=True),
        sa.Column("last_sent_at", sa.Float(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("finished_at", sa.Float(), nullable=True),
        sa.Column("error", sa.String(1024), nullable=True),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
    )
    op.create_index("ix_command_status_expires_at", "command", ["status", "expires_at"])
    op.create_index("ix_command_agent_id", "command", ["agent_id"])
    op.create_table(
        "command_result",
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("msg_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("cmd_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("received_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("agent_id", "msg_id"),
    )
    op.create_table(
        "coordinator_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    for table in ("coordinator_meta", "command_result", "command", "event", "device", "agent"):
        op.drop_table(table)
