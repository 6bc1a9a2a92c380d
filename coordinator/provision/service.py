"""``ProvisioningService``: enrollment tokens, enrollment (CSR signing), renewal, revocation, decommission.

Every action — accepted or refused — leaves a row in ``provisioning_audit`` (who, when, what, from where).
Tokens are stored as SHA-256 hashes only. Enrollment is idempotent per token until the enroll command confirms
that it fetched the certificate: a retry with the same key gets the same certificate; a retry with a new key
(the first one was lost) gets a new certificate and the unused one is revoked — one agent, one valid cert.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import logging
import threading
import time
from collections.abc import Callable

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from coordinator.errors import NotFoundError, ProvisioningRefused
from coordinator.models import Device
from coordinator.models.provisioning import (
    AgentCertificate,
    AuditPublic,
    AuditsPublic,
    CertificatePublic,
    EnrollmentToken,
    ProvisionedAgent,
    ProvisionedAgentPublic,
    ProvisionedAgentsPublic,
    ProvisioningAudit,
    RevokeResult,
    TokenCreate,
    TokenCreated,
    TokenPublic,
    TokensPublic,
)
from coordinator.provision.revocation import enforce
from coordinator.settings import Settings
from protocols.ids import uuid7
from protocols.provisioning import (
    MAX_REQUEST_SKEW_S,
    BrokerAddress,
    EnrollConfirm,
    EnrollRequest,
    EnrollResponse,
    RenewRequest,
    RenewResponse,
    StartingConfig,
    renew_signing_bytes,
)
from provisioning import tokens
from provisioning.errors import PkiError
from provisioning.pki import Pki, SignedCert

log = logging.getLogger(__name__)

OUT_OF_SERVICE = "out_of_service"


def _key_fingerprint(public_key: ec.EllipticCurvePublicKey | object) -> str:
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def _fmt(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class ProvisioningService:
    def __init__(self, settings: Settings, engine: Engine, on_decommission: Callable[[str], None]) -> None:
        self.settings = settings
        self.engine = engine
        self._on_decommission = on_decommission
        self._pki = Pki(settings.pki_dir) if settings.pki_dir is not None else None
        self._lock = threading.Lock()
        self._expiry: dict[str, float] = {}
        self.load_expiries()

    # -- helpers -----------------------------------------------------------------------------------------

    @property
    def pki(self) -> Pki:
        if self._pki is None:
            raise ProvisioningRefused(
                "provisioning is disabled: set HALLMESH_PKI_DIR on the coordinator", 503
            )
        return self._pki

    def audit(
        self,
        session: Session | None,
        *,
        actor: str,
        action: str,
        outcome: str = "ok",
        agent_id: str = "",
        service_point: str = "",
        remote: str = "",
        detail: str = "",
    ) -> None:
        row = ProvisioningAudit(
            ts=time.time(),
            actor=actor[:128],
            action=action,
            outcome=outcome,
            agent_id=agent_id[:64],
            service_point=service_point[:128],
            remote_addr=remote[:64],
            detail=detail[:1024],
        )
        if session is not None:
            session.add(row)
            return
        with Session(self.engine) as own:
            own.add(row)
            own.commit()

    def _refuse(
        self, message: str, status: int, ctx: dict[str, str], session: Session | None = None
    ) -> ProvisioningRefused:
        """Audit a refusal in its own transaction (after rolling back ``session``) and return the error."""
        if session is not None:
            session.rollback()
        self.audit(
            None,
            actor=ctx.get("actor", ""),
            action=ctx.get("action", ""),
            outcome="refused",
            agent_id=ctx.get("agent_id", ""),
            service_point=ctx.get("service_point", ""),
            remote=ctx.get("remote", ""),
            detail=message,
        )
        log.warning("provisioning refused (%s): %s", ctx.get("action", "?"), message)
        return ProvisioningRefused(message, status)

    def load_expiries(self) -> None:
        with Session(self.engine) as session:
            rows = session.exec(
                select(AgentCertificate, ProvisionedAgent)
                .join(ProvisionedAgent, col(ProvisionedAgent.agent_id) == col(AgentCertificate.agent_id))
                .where(col(AgentCertificate.revoked_at).is_(None), ProvisionedAgent.status == "active")
            ).all()
        expiry: dict[str, float] = {}
        for cert, _agent in rows:
            expiry[cert.agent_id] = max(expiry.get(cert.agent_id, 0.0), cert.not_after)
        with self._lock:
            self._expiry = expiry

    def certificate_expiries(self) -> dict[str, float]:
        with self._lock:
            return dict(self._expiry)

    def _sign(self, csr_pem: str, agent_id: str) -> SignedCert:
        return self.pki.sign_agent_csr(
            csr_pem.encode(), agent_id, dt.timedelta(seconds=self.settings.agent_cert_lifetime_s)
        )

    # -- tokens ------------------------------------------------------------------------------------------

    def create_token(self, body: TokenCreate, actor: str, remote: str) -> TokenCreated:
        self.pki  # noqa: B018 - refuse early when provisioning is disabled
        code = tokens.new_code()
        now = time.time()
        row = EnrollmentToken(
            id=str(uuid7()),
            token_hash=tokens.token_hash(code),
            agent_id=body.agent_id,
            service_point=body.service_point,
            created_at=now,
            expires_at=now + body.ttl_s,
            created_by=actor,
            note=body.note,
        )
        with Session(self.engine) as session:
            session.add(row)
            self.audit(session, actor=actor, action="token.create", agent_id=body.agent_id,
                       service_point=body.service_point, remote=remote,
                       detail=f"token {row.id}, expires {_fmt(row.expires_at)}")  # fmt: skip
            session.commit()
            session.refresh(row)
            return TokenCreated(
                **TokenPublic.model_validate(row, from_attributes=True).model_dump(), code=code
            )

    def list_tokens(self, agent_id: str | None = None) -> TokensPublic:
        with Session(self.engine) as session:
            query = select(EnrollmentToken).order_by(col(EnrollmentToken.created_at).desc())
            if agent_id:
                query = query.where(EnrollmentToken.agent_id == agent_id)
            rows = session.exec(query).all()
            data = [TokenPublic.model_validate(r, from_attributes=True) for r in rows]
        return TokensPublic(data=data, count=len(data))

    def cancel_token(self, token_id: str, actor: str, remote: str) -> TokenPublic:
        with Session(self.engine) as session:
            row = session.get(EnrollmentToken, token_id)
            if row is None:
                raise NotFoundError(f"enrollment token {token_id!r} does not exist")
            if row.cancelled_at is None and row.confirmed_at is None:
                row.cancelled_at = time.time()
            self.audit(session, actor=actor, action="token.cancel", agent_id=row.agent_id,
                       service_point=row.service_point, remote=remote, detail=f"token {row.id}")  # fmt: skip
            session.commit()
            session.refresh(row)
            return TokenPublic.model_validate(row, from_attributes=True)

    # -- enrollment --------------------------------------------------------------------------------------

    def enroll(self, req: EnrollRequest, remote: str) -> EnrollResponse:
        pki = self.pki
        actor = f"token from {req.hostname or 'unknown host'}"
        ctx = {"actor": actor, "action": "enroll", "service_point": req.service_point, "remote": remote}
        try:
            csr = x509.load_pem_x509_csr(req.csr_pem.encode())
        except ValueError as err:
            raise self._refuse(f"not a PEM certificate signing request: {err}", 422, ctx) from err
        if not csr.is_signature_valid:
            raise self._refuse("the CSR's signature does not verify", 422, ctx)
        public_key = csr.public_key()
        if not isinstance(public_key, ec.EllipticCurvePublicKey):
            raise self._refuse("the CSR must carry an EC (P-256) public key", 422, ctx)
        fingerprint = _key_fingerprint(public_key)
        now = time.time()
        revoke: list[int] = []
        with Session(self.engine) as session:
            token = session.exec(
                select(EnrollmentToken)
                .where(EnrollmentToken.token_hash == tokens.token_hash(req.token))
                .with_for_update()
            ).first()
            if token is None:
                raise self._refuse(
                    "unknown enrollment token (check the code, or ask for a new one)", 401, ctx, session
                )
            ctx["agent_id"] = token.agent_id
            if token.cancelled_at is not None:
                raise self._refuse(
                    f"enrollment token was cancelled at {_fmt(token.cancelled_at)}", 410, ctx, session
                )
            if token.confirmed_at is not None:
                raise self._refuse(
                    f"enrollment token already used: agent {token.agent_id} enrolled with it at "
                    f"{_fmt(token.confirmed_at)}; ask for a new token",
                    409,
                    ctx,
                    session,
                )
            if token.service_point != req.service_point:
                raise self._refuse(
                    f"enrollment token is for service point {token.service_point}, not {req.service_point}",
                    403,
                    ctx,
                    session,
                )
            if token.redeemed_at is not None and token.key_sha256 == fingerprint and token.cert_pem:
                # The same PC asking again (its first answer was lost): the same certificate, no new one.
                cert = session.get(AgentCertificate, token.cert_serial)
                assert cert is not None
                self.audit(session, detail=f"same key again: certificate {cert.serial} re-sent", **ctx)
                session.commit()
                return self._enroll_response(token, token.cert_pem, cert.serial, cert.not_after)
            if token.expires_at < now:
                raise self._refuse(f"enrollment token expired at {_fmt(token.expires_at)}", 410, ctx, session)
            try:
                signed = self._sign(req.csr_pem, token.agent_id)
            except PkiError as err:
                raise self._refuse(str(err), 422, ctx, session) from err
            # One agent, one valid certificate: every other unrevoked certificate of this agent is revoked
            # (an unused one from an earlier attempt with another key, or the PC being replaced).
            others = session.exec(
                select(AgentCertificate).where(
                    AgentCertificate.agent_id == token.agent_id, col(AgentCertificate.revoked_at).is_(None)
                )
            ).all()
            for other in others:
                other.revoked_at = now
                revoke.append(int(other.serial, 16))
            session.add(_certificate_row(signed, token.agent_id, "enroll", now))
            token.redeemed_at = now
            token.key_sha256 = fingerprint
            token.cert_serial = signed.serial
            token.cert_pem = signed.pem
            agent = session.get(ProvisionedAgent, token.agent_id)
            if agent is None:
                agent = ProvisionedAgent(
                    agent_id=token.agent_id,
                    service_point=token.service_point,
                    enrolled_at=now,
                    updated_at=now,
                )
            agent.status = "active"
            agent.service_point = token.service_point
            agent.hostname = req.hostname
            agent.enrolled_at = now
            agent.updated_at = now
            session.add(agent)
            detail = f"certificate {signed.serial} until {_fmt(signed.not_after)}"
            if revoke:
                detail += f"; revoked previous {', '.join(f'{s:x}' for s in revoke)}"
            self.audit(session, detail=detail, **ctx)
            session.commit()
            response = self._enroll_response(token, signed.pem, signed.serial, signed.not_after)
        if revoke:
            enforce(self.settings, pki, revoke, response.agent_id)
        self.load_expiries()
        return response

    def _enroll_response(
        self, token: EnrollmentToken, pem: str, serial: str, not_after: float
    ) -> EnrollResponse:
        s = self.settings
        return EnrollResponse(
            agent_id=token.agent_id,
            service_point=token.service_point,
            certificate_pem=pem,
            ca_pem=self.pki.ca_pem(),
            serial=serial,
            not_after=not_after,
            broker=BrokerAddress(
                host=s.broker_public_host or s.mqtt_host, port=s.broker_public_port or s.mqtt_port
            ),
            config=StartingConfig(),
        )

    def confirm(self, req: EnrollConfirm, remote: str) -> None:
        ctx = {"actor": "token", "action": "enroll.confirm", "remote": remote}
        with Session(self.engine) as session:
            token = session.exec(
                select(EnrollmentToken)
                .where(EnrollmentToken.token_hash == tokens.token_hash(req.token))
                .with_for_update()
            ).first()
            if token is None or token.cert_serial != req.serial:
                raise self._refuse("no enrollment with this token and certificate serial", 404, ctx, session)
            if token.confirmed_at is None:
                token.confirmed_at = time.time()
                self.audit(session, agent_id=token.agent_id, service_point=token.service_point,
                           detail=f"certificate {req.serial} fetched; token used up", **ctx)  # fmt: skip
            session.commit()

    # -- renewal -----------------------------------------------------------------------------------------

    def verify_agent_request(
        self,
        agent_id: str,
        certificate_pem: str,
        ts: float,
        signature_b64: str,
        message: bytes,
        ctx: dict[str, str],
    ) -> str:
        """Check a request an agent signed with its current key (renewal; meant for blob uploads too) and return
        the certificate's serial. Refused (and audited) unless the certificate was issued by this CA through
        enrollment or renewal, names ``agent_id``, is within its validity and not revoked, the agent is active,
        ``ts`` is within MAX_REQUEST_SKEW_S of our clock and ``signature_b64`` verifies over ``message``."""
        now = time.time()
        try:
            current = x509.load_pem_x509_certificate(certificate_pem.encode())
            self.pki.verify_issued(current)
        except (ValueError, PkiError) as err:
            raise self._refuse(f"bad certificate: {err}", 401, ctx) from err
        cns = current.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        if not cns or cns[0].value != agent_id:
            raise self._refuse("the certificate is not this agent's", 401, ctx)
        if not current.not_valid_before_utc.timestamp() <= now <= current.not_valid_after_utc.timestamp():
            raise self._refuse("the certificate has expired: enroll the PC again with a new token", 401, ctx)
        if abs(ts - now) > MAX_REQUEST_SKEW_S:
            raise self._refuse(f"request time is {ts - now:+.0f} s off the coordinator's clock", 401, ctx)
        public_key = current.public_key()
        if not isinstance(public_key, ec.EllipticCurvePublicKey):
            raise self._refuse("the certificate must carry an EC key", 401, ctx)
        try:
            public_key.verify(
                base64.b64decode(signature_b64, validate=True), message, ec.ECDSA(hashes.SHA256())
            )
        except (InvalidSignature, binascii.Error, ValueError) as err:
            raise self._refuse("the request signature does not verify", 401, ctx) from err
        serial = f"{current.serial_number:x}"
        with Session(self.engine) as session:
            self._check_active(session, agent_id, serial, ctx)
        return serial

    def _check_active(
        self, session: Session, agent_id: str, serial: str, ctx: dict[str, str]
    ) -> ProvisionedAgent:
        """In ``session`` (row locked on PostgreSQL; SQLite transactions are serial): the certificate is on
        record for this agent and not revoked, and the agent is active."""
        row = session.get(AgentCertificate, serial)
        agent = session.get(ProvisionedAgent, agent_id, with_for_update=True)
        if row is None or agent is None or row.agent_id != agent_id:
            raise self._refuse(f"certificate {serial} was not issued by enrollment", 401, ctx, session)
        if row.revoked_at is not None or agent.status != "active":
            raise self._refuse(
                f"agent {agent_id} is {agent.status}: certificate {serial} revoked", 403, ctx, session
            )
        return agent

    def renew(self, req: RenewRequest, remote: str) -> RenewResponse:
        pki = self.pki
        ctx = {
            "actor": f"agent {req.agent_id}",
            "action": "renew",
            "agent_id": req.agent_id,
            "remote": remote,
        }
        message = renew_signing_bytes(req.agent_id, req.ts, req.nonce, req.csr_pem)
        serial = self.verify_agent_request(
            req.agent_id, req.certificate_pem, req.ts, req.signature_b64, message, ctx
        )
        now = time.time()
        with Session(self.engine) as session:
            # Again, in the transaction that records the new certificate: a revocation cannot slip in between.
            agent = self._check_active(session, req.agent_id, serial, ctx)
            try:
                signed = self._sign(req.csr_pem, req.agent_id)
            except PkiError as err:
                raise self._refuse(str(err), 422, ctx, session) from err
            session.add(_certificate_row(signed, req.agent_id, "renew", now))
            agent.updated_at = now
            session.add(agent)
            self.audit(session, service_point=agent.service_point,
                       detail=f"certificate {signed.serial} until {_fmt(signed.not_after)} replaces {serial}",
                       **ctx)  # fmt: skip
            session.commit()
        self.load_expiries()
        return RenewResponse(
            certificate_pem=signed.pem, ca_pem=pki.ca_pem(), serial=signed.serial, not_after=signed.not_after
        )

    # -- revocation and decommission ---------------------------------------------------------------------

    def revoke(self, agent_id: str, actor: str, remote: str, *, decommission: bool = False) -> RevokeResult:
        t0 = time.monotonic()
        pki = self.pki
        action = "decommission" if decommission else "revoke"
        now = time.time()
        with Session(self.engine) as session:
            agent = session.get(ProvisionedAgent, agent_id, with_for_update=True)
            certs = session.exec(
                select(AgentCertificate).where(
                    AgentCertificate.agent_id == agent_id, col(AgentCertificate.revoked_at).is_(None)
                )
            ).all()
            legacy = agent_id in {c.name for c in pki.issued() if not c.revoked}
            if agent is None and not certs and not legacy:
                raise NotFoundError(f"agent {agent_id!r} was never provisioned")
            serials = [c.serial for c in certs]
            for cert in certs:
                cert.revoked_at = now
                session.add(cert)
            for token in session.exec(
                select(EnrollmentToken).where(
                    EnrollmentToken.agent_id == agent_id,
                    col(EnrollmentToken.confirmed_at).is_(None),
                    col(EnrollmentToken.cancelled_at).is_(None),
                )
            ).all():
                token.cancelled_at = now
                session.add(token)
            status = "decommissioned" if decommission else "revoked"
            if agent is not None:
                agent.status = status
                agent.updated_at = now
                session.add(agent)
            session.commit()
            service_point = agent.service_point if agent is not None else ""
        done = enforce(self.settings, pki, [int(s, 16) for s in serials], agent_id)
        out_of_service = self._take_devices_out(agent_id) if decommission else 0
        if decommission:
            self._on_decommission(agent_id)
        result = RevokeResult(
            agent_id=agent_id,
            status=status,
            revoked_serials=serials,
            broker_reloaded=done.broker_reloaded,
            session_ended=done.session_ended,
            devices_out_of_service=out_of_service,
            seconds=time.monotonic() - t0,
        )
        detail = (
            f"certificates {', '.join(serials) or '(pki index only)'}; broker reloaded {done.broker_reloaded}; "
            f"session ended {done.session_ended}"
        )
        if decommission:
            detail += f"; {out_of_service} device(s) out of service"
        if done.problems:
            detail += "; problems: " + "; ".join(done.problems)
        self.audit(None, actor=actor, action=action, agent_id=agent_id, service_point=service_point,
                   remote=remote, detail=detail)  # fmt: skip
        self.load_expiries()
        return result

    def _take_devices_out(self, agent_id: str) -> int:
        with Session(self.engine) as session:
            devices = session.exec(select(Device).where(Device.agent_id == agent_id)).all()
            for d in devices:
                d.status = OUT_OF_SERVICE
                d.reason = "agent decommissioned"
                d.updated_at = time.time()
                session.add(d)
            session.commit()
            return len(devices)

    def decommissioned(self) -> set[str]:
        with Session(self.engine) as session:
            rows = session.exec(
                select(ProvisionedAgent.agent_id).where(ProvisionedAgent.status == "decommissioned")
            ).all()
        return set(rows)

    # -- reading -----------------------------------------------------------------------------------------

    def agents(self, agent_id: str | None = None) -> ProvisionedAgentsPublic:
        with Session(self.engine) as session:
            query = select(ProvisionedAgent).order_by(col(ProvisionedAgent.agent_id))
            if agent_id is not None:
                query = query.where(ProvisionedAgent.agent_id == agent_id)
            agents = session.exec(query).all()
            data = []
            for a in agents:
                certs = session.exec(
                    select(AgentCertificate)
                    .where(AgentCertificate.agent_id == a.agent_id)
                    .order_by(col(AgentCertificate.issued_at))
                ).all()
                valid = [c.not_after for c in certs if c.revoked_at is None]
                data.append(
                    ProvisionedAgentPublic(
                        **a.model_dump(),
                        certificate_expires_at=max(valid) if valid else None,
                        certificates=[
                            CertificatePublic.model_validate(c, from_attributes=True) for c in certs
                        ],
                    )
                )
        return ProvisionedAgentsPublic(data=data, count=len(data))

    def audit_log(self, agent_id: str | None, limit: int) -> AuditsPublic:
        with Session(self.engine) as session:
            query = select(ProvisioningAudit).order_by(col(ProvisioningAudit.id).desc()).limit(limit)
            if agent_id:
                query = query.where(ProvisioningAudit.agent_id == agent_id)
            rows = session.exec(query).all()
            data = [AuditPublic.model_validate(r, from_attributes=True) for r in rows]
        return AuditsPublic(data=data, count=len(data))


def _certificate_row(signed: SignedCert, agent_id: str, reason: str, now: float) -> AgentCertificate:
    """The record of a certificate the CA just signed for ``agent_id`` (on enrollment or renewal)."""
    return AgentCertificate(
        serial=signed.serial,
        agent_id=agent_id,
        reason=reason,
        issued_at=now,
        not_before=signed.not_before,
        not_after=signed.not_after,
    )
