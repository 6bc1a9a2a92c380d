"""A local certificate authority for the mesh, built on ``cryptography`` (EC P-256).

Layout of a PKI directory (private keys are 0600 and never leave it, except agents' own):

    ca.pem ca.key crl.pem index.json
    issued/<name>.pem issued/<name>.key

The CN of an agent's certificate is its agent id; the broker uses it as the MQTT user name for ACLs.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from protocols.topics import COORDINATOR_ID, is_valid_id
from provisioning.errors import PkiError

CRL_VALIDITY: Final = dt.timedelta(days=365)
CA_VALIDITY: Final = dt.timedelta(days=3650)
LEAF_VALIDITY: Final = dt.timedelta(days=397)


@dataclass(frozen=True)
class CertFiles:
    cert: Path
    key: Path


@dataclass(frozen=True)
class SignedCert:
    pem: str
    serial: str
    """hexadecimal"""
    not_before: float
    not_after: float


@dataclass(frozen=True)
class IssuedCert:
    name: str
    serial: int
    not_after: str
    revoked: bool


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def _write_public(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.chmod(0o644)
    os.replace(tmp, path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


class Pki:
    """The CA of one installation. Thread-safe for issuing and revoking within one process."""

    def __init__(self, directory: Path) -> None:
        self.dir = Path(directory)
        self._lock = threading.Lock()
        if not self.ca_cert_path.exists():
            raise PkiError(f"no CA in {self.dir}: run Pki.create() / `hallmesh broker up` first")
        self._ca_cert = x509.load_pem_x509_certificate(self.ca_cert_path.read_bytes())
        key = serialization.load_pem_private_key((self.dir / "ca.key").read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise PkiError(f"{self.dir / 'ca.key'}: not an EC private key")
        self._ca_key = key

    @classmethod
    def create(cls, directory: Path, common_name: str = "hallmesh CA") -> Pki:
        """Create a CA in ``directory`` unless one is already there; return it."""
        directory = Path(directory)
        (directory / "issued").mkdir(parents=True, exist_ok=True)
        directory.chmod(0o755)
        if not (directory / "ca.pem").exists():
            key = ec.generate_private_key(ec.SECP256R1())
            name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
            now = _now()
            cert = (
                x509.CertificateBuilder()
                .subject_name(name)
                .issuer_name(name)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5))
                .not_valid_after(now + CA_VALIDITY)
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(
                    x509.KeyUsage(
                        digital_signature=True,
                        content_commitment=False,
                        key_encipherment=False,
                        data_encipherment=False,
                        key_agreement=False,
                        key_cert_sign=True,
                        crl_sign=True,
                        encipher_only=False,
                        decipher_only=False,
                    ),
                    critical=True,
                )
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .sign(key, hashes.SHA256())
            )
            _write_private(directory / "ca.key", _key_pem(key))
            _write_public(directory / "ca.pem", cert.public_bytes(serialization.Encoding.PEM))
            (directory / "index.json").write_text("{}")
        pki = cls(directory)
        if not pki.crl_path.exists():
            pki.write_crl()
        return pki

    @property
    def ca_cert_path(self) -> Path:
        return self.dir / "ca.pem"

    @property
    def crl_path(self) -> Path:
        return self.dir / "crl.pem"

    def files(self, name: str) -> CertFiles:
        return CertFiles(self.dir / "issued" / f"{name}.pem", self.dir / "issued" / f"{name}.key")

    # -- index -------------------------------------------------------------------------------------------

    def _index(self) -> dict[str, dict[str, object]]:
        path = self.dir / "index.json"
        data = json.loads(path.read_text()) if path.exists() else {}
        if not isinstance(data, dict):
            raise PkiError(f"{path}: expected a JSON object")
        return data

    def _save_index(self, index: dict[str, dict[str, object]]) -> None:
        _write_public(self.dir / "index.json", json.dumps(index, indent=1, sort_keys=True).encode())

    def issued(self) -> list[IssuedCert]:
        return [
            IssuedCert(name, int(str(v["serial"])), str(v["not_after"]), bool(v.get("revoked")))
            for name, v in sorted(self._index().items())
        ]

    # -- issuing -----------------------------------------------------------------------------------------

    def _issue(
        self,
        name: str,
        common_name: str,
        usage: x509.ObjectIdentifier,
        sans: list[x509.GeneralName],
        validity: dt.timedelta,
    ) -> CertFiles:
        key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(self._ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + validity)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._ca_key.public_key()), critical=False
            )
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(self._ca_key, hashes.SHA256())
        files = self.files(name)
        with self._lock:
            _write_private(files.key, _key_pem(key))
            _write_public(files.cert, cert.public_bytes(serialization.Encoding.PEM))
            index = self._index()
            index[name] = {
                "serial": cert.serial_number,
                "cn": common_name,
                "not_after": cert.not_valid_after_utc.isoformat(),
                "revoked": False,
            }
            self._save_index(index)
        return files

    def issue_server(
        self, name: str = "broker", hosts: tuple[str, ...] = ("localhost", "127.0.0.1")
    ) -> CertFiles:
        sans: list[x509.GeneralName] = []
        for host in hosts:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                sans.append(x509.DNSName(host))
        return self._issue(name, hosts[0], ExtendedKeyUsageOID.SERVER_AUTH, sans, LEAF_VALIDITY)

    def issue_coordinator(self) -> CertFiles:
        return self._issue(COORDINATOR_ID, COORDINATOR_ID, ExtendedKeyUsageOID.CLIENT_AUTH, [], LEAF_VALIDITY)

    def issue_agent(self, agent_id: str, validity: dt.timedelta = LEAF_VALIDITY) -> CertFiles:
        if not is_valid_id(agent_id):
            raise PkiError(f"invalid agent id {agent_id!r}: lower-case letters, digits, '_', '.', '-'")
        if agent_id == COORDINATOR_ID:
            raise PkiError(f"agent id {agent_id!r} is reserved for the coordinator")
        return self._issue(agent_id, agent_id, ExtendedKeyUsageOID.CLIENT_AUTH, [], validity)

    def sign_agent_csr(self, csr_pem: bytes, agent_id: str, validity: dt.timedelta) -> SignedCert:
        """Sign a CSR for ``agent_id`` (the CN is set to the agent id whatever the CSR asks); record it.

        The certificate is recorded in the index under ``<agent_id>#<serial hex>``, so every certificate of an
        agent (enrollment, renewals) can be revoked. It is back-dated by 5 % of its lifetime (at most 5 min) to
        tolerate small clock differences without moving its renewal point much.
        """
        if not is_valid_id(agent_id) or agent_id == COORDINATOR_ID:
            raise PkiError(f"invalid agent id {agent_id!r}")
        try:
            csr = x509.load_pem_x509_csr(csr_pem)
        except ValueError as err:
            raise PkiError(f"not a PEM certificate signing request: {err}") from err
        if not csr.is_signature_valid:
            raise PkiError("the CSR's signature does not verify")
        public_key = csr.public_key()
        if not isinstance(public_key, ec.EllipticCurvePublicKey):
            raise PkiError("the CSR must carry an EC (P-256) public key")
        now = _now()
        backdate = min(dt.timedelta(minutes=5), validity * 0.05)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, agent_id)]))
            .issuer_name(self._ca_cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - backdate)
            .not_valid_after(now + validity)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._ca_key.public_key()), critical=False
            )
            .sign(self._ca_key, hashes.SHA256())
        )
        with self._lock:
            index = self._index()
            index[f"{agent_id}#{cert.serial_number:x}"] = {
                "serial": cert.serial_number,
                "cn": agent_id,
                "not_after": cert.not_valid_after_utc.isoformat(),
                "revoked": False,
            }
            self._save_index(index)
        return SignedCert(
            pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
            serial=f"{cert.serial_number:x}",
            not_before=cert.not_valid_before_utc.timestamp(),
            not_after=cert.not_valid_after_utc.timestamp(),
        )

    def ca_pem(self) -> str:
        return self.ca_cert_path.read_text()

    def verify_issued(self, cert: x509.Certificate) -> None:
        """Raise :class:`PkiError` unless ``cert`` was signed by this CA."""
        try:
            cert.verify_directly_issued_by(self._ca_cert)
        except (ValueError, TypeError, InvalidSignature) as err:
            raise PkiError("the certificate was not issued by this CA") from err

    # -- revocation --------------------------------------------------------------------------------------

    def revoke_serials(self, serials: list[int]) -> list[int]:
        """Revoke every recorded certificate with one of ``serials``; rewrite the CRL; return those found."""
        wanted = set(serials)
        found: list[int] = []
        with self._lock:
            index = self._index()
            for entry in index.values():
                serial = int(str(entry["serial"]))
                if serial in wanted and not entry.get("revoked"):
                    entry["revoked"] = True
                    entry["revoked_at"] = _now().isoformat()
                    found.append(serial)
            self._save_index(index)
        self.write_crl()
        return found

    def revoke(self, name: str) -> int:
        """Revoke the certificate issued under ``name``; rewrite the CRL; return its serial."""
        with self._lock:
            index = self._index()
            if name not in index:
                raise PkiError(f"no certificate issued under {name!r}")
            index[name]["revoked"] = True
            index[name]["revoked_at"] = _now().isoformat()
            self._save_index(index)
            serial = int(str(index[name]["serial"]))
        self.write_crl()
        return serial

    def write_crl(self) -> Path:
        """(Re)write the CRL, valid for a year; the broker must be sent SIGHUP to load it."""
        now = _now()
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self._ca_cert.subject)
            .last_update(now - dt.timedelta(minutes=5))
            .next_update(now + CRL_VALIDITY)
        )
        with self._lock:
            for entry in self._index().values():
                if entry.get("revoked"):
                    revoked_at = dt.datetime.fromisoformat(str(entry.get("revoked_at", now.isoformat())))
                    builder = builder.add_revoked_certificate(
                        x509.RevokedCertificateBuilder()
                        .serial_number(int(str(entry["serial"])))
                        .revocation_date(revoked_at)
                        .build()
                    )
            crl = builder.sign(self._ca_key, hashes.SHA256())
            _write_public(self.crl_path, crl.public_bytes(serialization.Encoding.PEM))
        return self.crl_path
