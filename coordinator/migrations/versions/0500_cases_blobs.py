"""Blob store records, minimal cases and their materials, the case in front of each window.

Revision ID: 0500
Revises: 0301
Create Date: 2026-11-28 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0500"
down_revision: str | None = "0301"
branch_labels: str | Sequence[str] | None = ("cases",)
depends_on: str | Sequence[str] | None = None


def _s(n: int) -> sqlmodel.AutoString:
    return sqlmodel.AutoString(length=n)


def upgrade() -> None:
    op.create_table(
        "blob",
        sa.Column("sha256", _s(64), primary_key=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("media_type", _s(64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("source", _s(80), nullable=False),
    )
    op.create_table(
        "blob_grant",
        sa.Column("agent_id", _s(64), primary_key=True),
        sa.Column("sha256", _s(64), primary_key=True),
        sa.Column("expires_at", sa.Float(), nullable=False),
    )
    op.create_table(
        "case_file",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("code", _s(40), nullable=False, unique=True),
        sa.Column("unit_id", sa.Integer(), sa.ForeignKey("org_unit.id"), nullable=False),
        sa.Column("department_id", sa.Integer(), sa.ForeignKey("org_department.id"), nullable=True),
        sa.Column("window_id", sa.Integer(), sa.ForeignKey("org_window.id"), nullable=True),
        sa.Column("item_version_id", sa.Integer(), sa.ForeignKey("catalog_item_version.id"), nullable=True),
        sa.Column("title", _s(200), nullable=False),
        sa.Column("applicant_name", _s(64), nullable=False),
        sa.Column("applicant_id_number", _s(32), nullable=False),
        sa.Column("status", _s(16), nullable=False),
        sa.Column("opened_by", sa.Integer(), sa.ForeignKey("staff.id"), nullable=False),
        sa.Column("opened_at", sa.Float(), nullable=False),
        sa.Column("closed_at", sa.Float(), nullable=True),
    )
    op.create_index("ix_case_file_unit_id", "case_file", ["unit_id"])
    op.create_index("ix_case_file_window_id", "case_file", ["window_id"])
    op.create_table(
        "counter_case",
        sa.Column("window_id", sa.Integer(), sa.ForeignKey("org_window.id"), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("case_file.id"), nullable=False),
        sa.Column("since", sa.Float(), nullable=False),
    )
    op.create_table(
        "case_material",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("case_file.id"), nullable=True),
        sa.Column("window_id", sa.Integer(), sa.ForeignKey("org_window.id"), nullable=True),
        sa.Column("kind", _s(32), nullable=False),
        sa.Column("sha256", _s(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("media_type", _s(64), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("agent_id", _s(64), nullable=False),
        sa.Column("device_id", _s(64), nullable=False),
        sa.Column("capture_id", _s(64), nullable=False),
        sa.Column("cmd_id", _s(64), nullable=True),
        sa.Column("signs", _s(64), nullable=True),
        sa.Column("captured_at", sa.Float(), nullable=False),
        sa.Column("filed_at", sa.Float(), nullable=False),
        sa.Column("clerk_id", sa.Integer(), sa.ForeignKey("staff.id"), nullable=True),
        sa.UniqueConstraint("agent_id", "capture_id", name="uq_material_capture"),
    )
    op.create_index("ix_case_material_case_id", "case_material", ["case_id"])
    op.create_index("ix_case_material_window_id", "case_material", ["window_id"])
    op.create_index("ix_case_material_sha256", "case_material", ["sha256"])


def downgrade() -> None:
    for name in ("case_material", "counter_case", "case_file", "blob_grant", "blob"):
        op.drop_table(name)
