"""Staff per process step (附件1 表2): who handles a step of a template, in how many working days.

Revision ID: 0310
Revises: 0301
Create Date: 2026-11-28 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0310"
down_revision: str | None = "0301"
branch_labels: str | Sequence[str] | None = ("step_staff",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "process_step_staff",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("template_id", sa.Integer(), sa.ForeignKey("process_template.id"), nullable=False),
        sa.Column("step_key", sqlmodel.AutoString(length=32), nullable=False),
        sa.Column("staff_id", sa.Integer(), sa.ForeignKey("staff.id"), nullable=False),
        sa.Column("time_limit", sa.Integer(), nullable=False),
        sa.UniqueConstraint("template_id", "step_key", "staff_id"),
    )
    op.create_index("ix_process_step_staff_template_id", "process_step_staff", ["template_id"])
    op.create_index("ix_process_step_staff_staff_id", "process_step_staff", ["staff_id"])


def downgrade() -> None:
    op.drop_table("process_step_staff")
