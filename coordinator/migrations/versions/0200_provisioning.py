"""Field provisioning: enrollment tokens, provisioned agents, agent certificates, provisioning audit.

Revision ID: 0200
Revises: 0001
Create Date: 2026-11-28 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0200"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("provisioning",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "enrollment_token",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("service_point", sa.String(128), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("note", sa.String(256), nullable=False),
        sa.Column("redeemed_at", sa.Float(), nullable=True),
        sa.Column("key_sha256", sa.String(64), nullable=True),
        sa.Column("cert_serial", sa.String(64), nullable=True),
        sa.Column("cert_pem", sa.Text(), nullable=True),
        sa.Column("confirmed_at", sa.Float(), nullable=True),
        sa.Column("cancelled_at", sa.Float(), nullable=True),
    )
    op.create_index("ix_enrollment_token_agent_id", "enrollment_token", ["agent_id"])
    op.create_table(
        "provisioned_agent",
        sa.Column("agent_id", sa.String(64), primary_key=True),
        sa.Column("service_point", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("hostname", sa.String(255), nullable=False),
        sa.Column("enrolled_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
    )
    op.create_table(
        "agent_certificate",
        sa.Column("serial", sa.String(64), primary_key=True),
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("issued_at", sa.Float(), nullable=False),
        sa.Column("not_before", sa.Float(), nullable=False),
        sa.Column("not_after", sa.Float(), nullable=False),
        sa.Column("revoked_at", sa.Float(), nullable=True),
    )
    op.create_index("ix_agent_certificate_agent_id", "agent_certificate", ["agent_id"])
    op.create_table(
        "provisioning_audit",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("ts", sa.Float(), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("service_point", sa.String(128), nullable=False),
        sa.Column("remote_addr", sa.String(64), nullable=False),
        sa.Column("detail", sa.String(1024), nullable=False),
    )
    op.create_index("ix_provisioning_audit_agent_id", "provisioning_audit", ["agent_id"])


def downgrade() -> None:
    for table in ("provisioning_audit", "agent_certificate", "provisioned_agent", "enrollment_token"):
        op.drop_table(table)
