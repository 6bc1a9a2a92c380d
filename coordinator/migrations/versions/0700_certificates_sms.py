"""Certificates (registry, department seals, printer calibration, prints at the window) and the SMS outbox.

Revision ID: 0700
Revises: 0500
Create Date: 2026-11-28 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0700"
down_revision: str | None = "0500"
branch_labels: str | Sequence[str] | None = ("certificates",)
depends_on: str | Sequence[str] | None = None


def _s(n: int) -> sqlmodel.AutoString:
    return sqlmodel.AutoString(length=n)


def upgrade() -> None:
    op.create_table(
        "cert_seal",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("department_id", sa.Integer(), sa.ForeignKey("org_department.id"), nullable=True),
        sa.Column("unit_id", sa.Integer(), sa.ForeignKey("org_unit.id"), nullable=True),
        sa.Column("name", _s(64), nullable=False),
        sa.Column("cert_pem", sa.Text(), nullable=False),
        sa.Column("chain_pem", sa.Text(), nullable=False),
        sa.Column("key_file", _s(200), nullable=False),
        sa.Column("source", _s(16), nullable=False),
        sa.Column("serial", _s(64), nullable=False),
        sa.Column("not_after", sa.Float(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_cert_seal_department_id", "cert_seal", ["department_id"])
    op.create_index("ix_cert_seal_unit_id", "cert_seal", ["unit_id"])
    op.create_table(
        "cert_certificate",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("number", _s(48), nullable=False, unique=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("case_file.id"), nullable=False),
        sa.Column("template", _s(48), nullable=False),
        sa.Column("holder", _s(64), nullable=False),
        sa.Column("holder_id_number", _s(32), nullable=False),
        sa.Column("item", _s(200), nullable=False),
        sa.Column("issuer", _s(64), nullable=False),
        sa.Column("seal_id", sa.Integer(), sa.ForeignKey("cert_seal.id"), nullable=True),
        sa.Column("valid_from", sa.Float(), nullable=False),
        sa.Column("valid_until", sa.Float(), nullable=True),
        sa.Column("status", _s(16), nullable=False),
        sa.Column("sha256", _s(64), nullable=True),
        sa.Column("offset_x_mm", sa.Float(), nullable=False),
        sa.Column("offset_y_mm", sa.Float(), nullable=False),
        sa.Column("replaces_id", sa.Integer(), sa.ForeignKey("cert_certificate.id"), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("issued_at", sa.Float(), nullable=True),
        sa.Column("revoked_at", sa.Float(), nullable=True),
        sa.Column("reason", _s(200), nullable=False),
    )
    op.create_index("ix_cert_certificate_case_id", "cert_certificate", ["case_id"])
    op.create_index("ix_cert_certificate_status", "cert_certificate", ["status"])
    op.create_index("ix_cert_certificate_sha256", "cert_certificate", ["sha256"])
    op.create_table(
        "cert_printer_calibration",
        sa.Column("agent_id", _s(64), primary_key=True),
        sa.Column("device_id", _s(64), primary_key=True),
        sa.Column("offset_x_mm", sa.Float(), nullable=False),
        sa.Column("offset_y_mm", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
    )
    op.create_table(
        "cert_print",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("certificate_id", sa.Integer(), sa.ForeignKey("cert_certificate.id"), nullable=False),
        sa.Column("window_id", sa.Integer(), sa.ForeignKey("org_window.id"), nullable=True),
        sa.Column("agent_id", _s(64), nullable=True),
        sa.Column("device_id", _s(64), nullable=True),
        sa.Column("status", _s(16), nullable=False),
        sa.Column("cmd_id", _s(36), nullable=True),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("job_state", _s(32), nullable=False),
        sa.Column("reprint_of", sa.Integer(), sa.ForeignKey("cert_print.id"), nullable=True),
        sa.Column("requested_by", _s(64), nullable=False),
        sa.Column("error", _s(512), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_cert_print_certificate_id", "cert_print", ["certificate_id"])
    op.create_index("ix_cert_print_status", "cert_print", ["status"])
    op.create_index("ix_cert_print_cmd_id", "cert_print", ["cmd_id"])
    op.create_table(
        "sms_message",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("msg_id", _s(36), nullable=False, unique=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("case_file.id"), nullable=True),
        sa.Column("kind", _s(32), nullable=False),
        sa.Column("phone", _s(20), nullable=False),
        sa.Column("text", _s(500), nullable=False),
        sa.Column("status", _s(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.Float(), nullable=False),
        sa.Column("last_error", _s(300), nullable=False),
        sa.Column("gateway_ref", _s(64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("sent_at", sa.Float(), nullable=True),
    )
    op.create_index("ix_sms_message_case_id", "sms_message", ["case_id"])
    op.create_index("ix_sms_message_next_attempt_at", "sms_message", ["next_attempt_at"])


def downgrade() -> None:
    for name in ("sms_message", "cert_print", "cert_printer_calibration", "cert_certificate", "cert_seal"):
        op.drop_table(name)
