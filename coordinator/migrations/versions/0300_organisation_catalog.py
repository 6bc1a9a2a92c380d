"""Organisation (units, departments, halls, windows), staff, catalog items and their versions.

Revision ID: 0300
Revises: 0001
Create Date: 2026-11-28 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0300"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("organisation",)
depends_on: str | Sequence[str] | None = None


def _s(n: int) -> sqlmodel.AutoString:
    return sqlmodel.AutoString(length=n)


def upgrade() -> None:
    op.create_table(
        "org_unit",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("code", _s(12), nullable=False, unique=True),
        sa.Column("name", _s(64), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), sa.ForeignKey("org_unit.id"), nullable=True),
        sa.Column("path", _s(255), nullable=False),
    )
    op.create_index("ix_org_unit_parent_id", "org_unit", ["parent_id"])
    op.create_index("ix_org_unit_path", "org_unit", ["path"])
    op.create_table(
        "org_department",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("unit_id", sa.Integer(), sa.ForeignKey("org_unit.id"), nullable=False),
        sa.Column("code", _s(32), nullable=False),
        sa.Column("name", _s(64), nullable=False),
        sa.UniqueConstraint("unit_id", "code"),
    )
    op.create_index("ix_org_department_unit_id", "org_department", ["unit_id"])
    op.create_table(
        "org_hall",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("unit_id", sa.Integer(), sa.ForeignKey("org_unit.id"), nullable=False),
        sa.Column("name", _s(64), nullable=False),
    )
    op.create_index("ix_org_hall_unit_id", "org_hall", ["unit_id"])
    op.create_table(
        "org_window",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("hall_id", sa.Integer(), sa.ForeignKey("org_hall.id"), nullable=False),
        sa.Column("unit_id", sa.Integer(), sa.ForeignKey("org_unit.id"), nullable=False),
        sa.Column("department_id", sa.Integer(), sa.ForeignKey("org_department.id"), nullable=True),
        sa.Column("number", _s(16), nullable=False),
        sa.Column("name", _s(64), nullable=False),
        sa.Column("agent_id", _s(64), nullable=True, unique=True),
        sa.UniqueConstraint("hall_id", "number"),
    )
    op.create_index("ix_org_window_hall_id", "org_window", ["hall_id"])
    op.create_index("ix_org_window_unit_id", "org_window", ["unit_id"])
    op.create_table(
        "staff",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("employee_no", _s(32), nullable=False, unique=True),
        sa.Column("name", _s(64), nullable=False),
        sa.Column("unit_id", sa.Integer(), sa.ForeignKey("org_unit.id"), nullable=False),
        sa.Column("department_id", sa.Integer(), sa.ForeignKey("org_department.id"), nullable=True),
        sa.Column("window_id", sa.Integer(), sa.ForeignKey("org_window.id"), nullable=True),
        sa.Column("roles", _s(255), nullable=False),
        sa.Column("status", _s(16), nullable=False),
        sa.Column("password_hash", _s(255), nullable=True),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.Float(), nullable=True),
        sa.Column("token_version", sa.Integer(), nullable=False),
    )
    op.create_index("ix_staff_unit_id", "staff", ["unit_id"])
    op.create_index("ix_staff_department_id", "staff", ["department_id"])
    op.create_table(
        "catalog_item",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("implementation_code", _s(64), nullable=False, unique=True),
        sa.Column("basic_code", _s(64), nullable=False),
        sa.Column("unit_id", sa.Integer(), sa.ForeignKey("org_unit.id"), nullable=False),
        sa.Column("department_id", sa.Integer(), sa.ForeignKey("org_department.id"), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_catalog_item_basic_code", "catalog_item", ["basic_code"])
    op.create_index("ix_catalog_item_unit_id", "catalog_item", ["unit_id"])
    op.create_index("ix_catalog_item_department_id", "catalog_item", ["department_id"])
    op.create_table(
        "catalog_item_version",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("item_id", sa.Integer(), sa.ForeignKey("catalog_item.id"), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("status", _s(16), nullable=False),
        sa.Column("name", _s(200), nullable=False),
        sa.Column("item_type", _s(4), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("published_at", sa.Float(), nullable=True),
        sa.UniqueConstraint("item_id", "number"),
    )
    op.create_index("ix_catalog_item_version_item_id", "catalog_item_version", ["item_id"])
    op.create_index("ix_catalog_item_version_name", "catalog_item_version", ["name"])


def downgrade() -> None:
    for table in (
        "catalog_item_version",
        "catalog_item",
        "staff",
        "org_window",
        "org_hall",
        "org_department",
    ):
        op.drop_table(table)
    op.drop_table("org_unit")
