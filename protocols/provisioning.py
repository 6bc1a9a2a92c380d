"""The HTTP contract of field provisioning: enrollment (token + CSR) and renewal (a request signed with the
agent's current key). Shared by the coordinator, ``hallmesh provision enroll`` and the agent's renewal client.

Renewal is authenticated by a **signed request**, not by mTLS on the HTTP side: the agent sends its current
certificate and an ECDSA-SHA256 signature, made with its current private key, over :func:`renew_signing_bytes`
(agent id, a timestamp, a nonce and the SHA-256 of the CSR). The coordinator checks that the certificate was
issued by its CA, is the agent's, is neither expired nor revoked, that the signature verifies and that the
timestamp is within :data:`MAX_REQUEST_SKEW_S` of its clock. The CSR's own signature proves possession of the
new key, so the new key never leaves the counter PC either.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field

from protocols.messages import Id

ENROLL_PATH: Final = "/api/v1/enroll"
ENROLL_CONFIRM_PATH: Final = "/api/v1/enroll/confirm"
RENEW_PATH: Final = "/api/v1/renew"
TIME_PATH: Final = "/api/v1/provision/time"

MAX_REQUEST_SKEW_S: Final = 300.0
"""A signed renewal request older or newer than this (by the coordinator's clock) is refused."""

Pem = Annotated[str, Field(min_length=1, max_length=16_384)]
ServicePoint = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EnrollRequest(_Model):
    token: Annotated[str, Field(min_length=4, max_length=64)]
    service_point: ServicePoint
    csr_pem: Pem
    hostname: Annotated[str, Field(max_length=255)] = ""


class BrokerAddress(_Model):
    host: str
    port: int


class StartingConfig(_Model):
    """The agent's starting configuration (written into ``agent.toml`` by the enroll command)."""

    telemetry_interval_s: float = 10.0
    keepalive_s: int = 30


class EnrollResponse(_Model):
    agent_id: Id
    service_point: str
    certificate_pem: Pem
    ca_pem: Pem
    serial: str
    not_after: float
    broker: BrokerAddress
    config: StartingConfig


class EnrollConfirm(_Model):
    token: Annotated[str, Field(min_length=4, max_length=64)]
    serial: Annotated[str, Field(min_length=1, max_length=64)]


class RenewRequest(_Model):
    agent_id: Id
    certificate_pem: Pem
    csr_pem: Pem
    ts: float
    nonce: Annotated[str, Field(min_length=8, max_length=64)]
    signature_b64: Annotated[str, Field(min_length=8, max_length=512)]


class RenewResponse(_Model):
    certificate_pem: Pem
    ca_pem: Pem
    serial: str
    not_after: float


class TimeResponse(_Model):
    now: float


def renew_signing_bytes(agent_id: str, ts: float, nonce: str, csr_pem: str) -> bytes:
    """What the agent signs with its current key to ask for a new certificate."""
    csr_digest = hashlib.sha256(csr_pem.encode()).hexdigest()
    return f"hallmesh-renew-v1\n{agent_id}\n{ts:.6f}\n{nonce}\n{csr_digest}\n".encode()
