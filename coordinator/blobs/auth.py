"""Requests signed with an agent's key (protocols/blobs.py): who sent it, and may they?

The trust anchor is the CA the broker trusts for agents (``HALLMESH_MQTT_CA``): a certificate good enough for
the mesh is good enough for the store. On top of the chain, the CN must be the claimed agent id, the
certificate must be within its validity, not on the CA's CRL (when the coordinator keeps the CA,
``HALLMESH_PKI_DIR``) and not revoked in the provisioning records, and the agent not revoked or
decommissioned. So an agent taken out of service can no longer upload, at once.
"""

from __future__ import annotations

import base64
import binascii
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy.engine import Engine
from sqlmodel import Session

from coordinator.db import reader
from coordinator.models.provisioning import AgentCertificate, ProvisionedAgent
from protocols.blobs import MAX_REQUEST_SKEW_S


class SignatureRefused(Exception):
    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class SignedHeaders:
    agent_id: str | None
    ts: str | None
    cert_b64: str | None
    sig_b64: str | None


class AgentSignature:
    def __init__(self, ca_path: Path | None, crl_path: Path | None, engine: Engine) -> None:
        self._ca = x509.load_pem_x509_certificate(ca_path.read_bytes()) if ca_path is not None else None
        self._crl_path = crl_path
        self._engine = engine
        self._crl: tuple[float, frozenset[int]] | None = None
        self._lock = threading.Lock()

    def _revoked_serials(self) -> frozenset[int]:
        path = self._crl_path
        if path is None or not path.exists():
            return frozenset()
        mtime = path.stat().st_mtime
        with self._lock:
            if self._crl is None or self._crl[0] != mtime:
                crl = x509.load_pem_x509_crl(path.read_bytes())
                self._crl = (mtime, frozenset(r.serial_number for r in crl))
            return self._crl[1]

    def verify(self, h: SignedHeaders, message_for: object) -> str:
        """Check the headers; ``message_for(agent_id, ts)`` builds the signed bytes. Returns the agent id."""
        if not (h.agent_id and h.ts and h.cert_b64 and h.sig_b64):
            raise SignatureRefused(
                401, "unsigned", "unsigned request: X-Hallmesh-Agent, -Time, -Cert and -Sig are required"
            )
        if self._ca is None:
            raise SignatureRefused(503, "no_ca", "the coordinator has no agent CA (HALLMESH_MQTT_CA)")
        try:
            ts = float(h.ts)
            cert = x509.load_pem_x509_certificate(base64.b64decode(h.cert_b64, validate=True))
            signature = base64.b64decode(h.sig_b64, validate=True)
        except (ValueError, binascii.Error) as err:
            raise SignatureRefused(401, "bad_headers", f"malformed signature headers: {err}") from err
        try:
            cert.verify_directly_issued_by(self._ca)
        except (ValueError, TypeError, InvalidSignature) as err:
            raise SignatureRefused(
                401, "bad_certificate", "the certificate was not issued by the mesh CA"
            ) from err
        cns = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        if not cns or cns[0].value != h.agent_id:
            raise SignatureRefused(401, "bad_certificate", "the certificate is not this agent's")
        now = time.time()
        if not cert.not_valid_before_utc.timestamp() <= now <= cert.not_valid_after_utc.timestamp():
            raise SignatureRefused(401, "expired", "the certificate is not valid now")
        if abs(ts - now) > MAX_REQUEST_SKEW_S:
            raise SignatureRefused(
                401, "clock_skew", f"request time is {ts - now:+.0f} s off the coordinator's clock"
            )
        key = cert.public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise SignatureRefused(401, "bad_certificate", "the certificate must carry an EC key")
        assert callable(message_for)
        try:
            key.verify(signature, message_for(h.agent_id, ts), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature as err:
            raise SignatureRefused(401, "bad_signature", "the request signature does not verify") from err
        serial = cert.serial_number
        if serial in self._revoked_serials():
            raise SignatureRefused(403, "revoked", f"certificate {serial:x} is revoked")
        with Session(reader(self._engine)) as session:
            row = session.get(AgentCertificate, f"{serial:x}")
            agent = session.get(ProvisionedAgent, h.agent_id)
        if row is not None and row.revoked_at is not None:
            raise SignatureRefused(403, "revoked", f"certificate {serial:x} is revoked")
        if agent is not None and agent.status != "active":
            raise SignatureRefused(403, "revoked", f"agent {h.agent_id} is {agent.status}")
        return h.agent_id
