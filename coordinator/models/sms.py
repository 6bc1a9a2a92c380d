"""SMS notices to applicants: the transactional outbox (migration 0700).

A row is added in the same transaction as the case event it announces; the sender worker claims due rows
(``next_attempt_at``), sends them through the gateway and records the outcome. ``msg_id`` goes to the gateway
with every attempt so a gateway that dedupes never delivers a retried notice twice.
"""

from __future__ import annotations

from enum import StrEnum

from sqlmodel import Field, SQLModel


class SmsStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"
    """refused for good (a 4xx from the gateway) or out of attempts"""


class SmsMessage(SQLModel, table=True):
    __tablename__ = "sms_message"

    id: int | None = Field(default=None, primary_key=True)
    msg_id: str = Field(max_length=36, unique=True, description="UUID sent to the gateway (idempotency key)")
    case_id: int | None = Field(default=None, foreign_key="case_file.id", index=True)
    kind: str = Field(max_length=32, description="the case event: accepted, supplement_requested, …")
    phone: str = Field(max_length=20, description="personal data: masked in logs")
    text: str = Field(max_length=500)
    status: str = Field(default=SmsStatus.QUEUED.value, max_length=16)
    attempts: int = 0
    next_attempt_at: float = Field(index=True)
    last_error: str = Field(default="", max_length=300)
    gateway_ref: str = Field(default="", max_length=64, description="the gateway's id of the message")
    created_at: float
    sent_at: float | None = None


class SmsPublic(SQLModel):
    id: int
    msg_id: str
    case_id: int | None
    kind: str
    phone: str
    """masked"""
    text: str
    status: str
    attempts: int
    next_attempt_at: float
    last_error: str
    created_at: float
    sent_at: float | None
