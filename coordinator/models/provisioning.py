"""Field provisioning: enrollment tokens (hash only), provisioned agents, their certificates, the audit trail.

Certificate serials are stored as lower-case hexadecimal strings (160-bit numbers do not fit a BIGINT).
"""

from __future__ import annotations

from typing import Literal

import sqlalchemy as sa
from pydantic import Field as PydField
from sqlmodel import Field, SQLModel

from protocols.messages import Id
from protocols.provisioning import ServicePoint

AgentStatus = Literal["active", "revoked", "decommissioned"]


class EnrollmentToken(SQLModel, table=True):
    __tablename__ = "enrollment_token"

    id: str = Field(primary_key=True, max_length=36)
    token_hash: str = Field(max_length=64, unique=True)
    agent_id: str = Field(max_length=64, index=True)
    service_point: str = Field(max_length=128)
    created_at: float
    expires_at: float
    created_by: str = Field(max_length=128)
    note: str = Field("", max_length=256)
    redeemed_at: float | None = Field(default=None, description="a CSR was signed with this token")
    key_sha256: str | None = Field(default=None, max_length=64, description="public key of the CSR signed")
    cert_serial: str | None = Field(default=None, max_length=64)
    cert_pem: str | None = Field(default=None, sa_type=sa.Text)
    confirmed_at: float | None = Field(default=None, description="the certificate was fetched: token used up")
    cancelled_at: float | None = None


class ProvisionedAgent(SQLModel, table=True):
    __tablename__ = "provisioned_agent"

    agent_id: str = Field(primary_key=True, max_length=64)
    service_point: str = Field(max_length=128)
    status: str = Field(default="active", max_length=16)
    hostname: str = Field(default="", max_length=255)
    enrolled_at: float
    updated_at: float


class AgentCertificate(SQLModel, table=True):
    __tablename__ = "agent_certificate"

    serial: str = Field(primary_key=True, max_length=64)
    agent_id: str = Field(max_length=64, index=True)
    reason: str = Field(max_length=16, description="enroll or renew")
    issued_at: float
    not_before: float
    not_after: float
    revoked_at: float | None = None


class ProvisioningAudit(SQLModel, table=True):
    __tablename__ = "provisioning_audit"

    id: int | None = Field(default=None, primary_key=True)
    ts: float
    actor: str = Field(max_length=128)
    action: str = Field(max_length=32)
    outcome: str = Field(max_length=16, description="ok or refused")
    agent_id: str = Field("", max_length=64, index=True)
    service_point: str = Field("", max_length=128)
    remote_addr: str = Field("", max_length=64)
    detail: str = Field("", max_length=1024)


# -- API models ---------------------------------------------------------------------------------------------


class TokenCreate(SQLModel):
    agent_id: Id
    service_point: ServicePoint
    ttl_s: float = PydField(86_400.0, gt=0, le=30 * 86_400)
    note: str = PydField("", max_length=256)


class TokenPublic(SQLModel):
    id: str
    agent_id: str
    service_point: str
    created_at: float
    expires_at: float
    created_by: str
    note: str
    redeemed_at: float | None
    confirmed_at: float | None
    cancelled_at: float | None
    cert_serial: str | None


class TokenCreated(TokenPublic):
    code: str
    """shown once: only its hash is stored"""


class TokensPublic(SQLModel):
    data: list[TokenPublic]
    count: int


class CertificatePublic(SQLModel):
    serial: str
    reason: str
    issued_at: float
    not_before: float
    not_after: float
    revoked_at: float | None


class ProvisionedAgentPublic(SQLModel):
    agent_id: str
    service_point: str
    status: str
    hostname: str
    enrolled_at: float
    updated_at: float
    certificate_expires_at: float | None
    certificates: list[CertificatePublic]


class ProvisionedAgentsPublic(SQLModel):
    data: list[ProvisionedAgentPublic]
    count: int


class RevokeResult(SQLModel):
    agent_id: str
    status: str
    revoked_serials: list[str]
    broker_reloaded: bool
    session_ended: bool
    devices_out_of_service: int = 0
    seconds: float


class AuditPublic(SQLModel):
    id: int
    ts: float
    actor: str
    action: str
    outcome: str
    agent_id: str
    service_point: str
    remote_addr: str
    detail: str


class AuditsPublic(SQLModel):
    data: list[AuditPublic]
    count: int
