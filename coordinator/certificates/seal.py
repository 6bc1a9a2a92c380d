"""Department seals: keys and certificates from the coordinator's CA (or an imported PKCS#12), the red round
seal drawn as the visible appearance, and PAdES signing with pyHanko.

The seal certificate is issued by the CA in ``HALLMESH_PKI_DIR`` (the one that signs agents' certificates);
without a PKI directory the coordinator keeps a CA of its own for seals in ``<data_dir>/seal-ca``. Private keys
are files (0600) in ``<data_dir>/seals``, never rows; the certificate and the appearance PDF sit beside them.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from asn1crypto import keys as asn1_keys  # type: ignore[import-untyped]
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.sign import fields, signers
from pyhanko.sign.general import SigningError
from pyhanko.stamp import StaticStampStyle
from pyhanko_certvalidator.registry import SimpleCertificateStore
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from coordinator.certificates.errors import SealError
from coordinator.certificates.render import SEAL_RED, font_name
from provisioning.errors import PkiError
from provisioning.pki import Pki

SEAL_VALIDITY: Final = dt.timedelta(days=3 * 365)
SEAL_FIELD: Final = "DepartmentSeal"
SEAL_MOTTO: Final = "证照专用章"


@dataclass(frozen=True)
class SealMaterial:
    """What signing needs: the key file, the certificate and chain (PEM), the appearance PDF."""

    name: str
    key_file: Path
    cert_pem: str
    chain_pem: str
    appearance: Path


@dataclass(frozen=True)
class NewSeal:
    key_file: str
    cert_pem: str
    chain_pem: str
    serial: str
    not_after: float


def seal_ca(pki_dir: Path | None, data_dir: Path) -> Pki:
    """The CA that issues seal certificates: the coordinator's, or a local one for seals only."""
    try:
        if pki_dir is not None:
            return Pki(pki_dir)
        return Pki.create(data_dir / "seal-ca", common_name="hallmesh seal CA")
    except PkiError as err:
        raise SealError(f"no CA for department seals: {err}") from err


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    os.replace(tmp, path)


def issue_seal(ca_dir: Path, seals_dir: Path, name: str, stem: str) -> NewSeal:
    """A new P-256 key for ``name`` and its certificate (digital signature, non-repudiation) from the CA."""
    ca_cert = x509.load_pem_x509_certificate((ca_dir / "ca.pem").read_bytes())
    ca_key = serialization.load_pem_private_key((ca_dir / "ca.key").read_bytes(), password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise SealError(f"{ca_dir / 'ca.key'}: not an EC private key")
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    not_after = min(now + SEAL_VALIDITY, ca_cert.not_valid_after_utc)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, name),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, SEAL_MOTTO),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key_file = f"{stem}-{cert.serial_number:x}.key"
    _write_key(seals_dir / key_file, key)
    return NewSeal(
        key_file=key_file,
        cert_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        chain_pem=(ca_dir / "ca.pem").read_text(),
        serial=f"{cert.serial_number:x}",
        not_after=cert.not_valid_after_utc.timestamp(),
    )


def import_pkcs12(data: bytes, password: bytes | None, seals_dir: Path, stem: str) -> NewSeal:
    """A seal key and certificate (with its chain) from a PKCS#12 file."""
    try:
        key, cert, chain = pkcs12.load_key_and_certificates(data, password)
    except ValueError as err:
        raise SealError(f"PKCS#12 不能读取（口令错误或文件损坏）：{err}") from err
    if cert is None or not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise SealError("PKCS#12 中没有证书，或私钥不是 EC/RSA")
    key_file = f"{stem}-{cert.serial_number:x}.key"
    _write_key(seals_dir / key_file, key)
    return NewSeal(
        key_file=key_file,
        cert_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        chain_pem="".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in chain),
        serial=f"{cert.serial_number:x}",
        not_after=cert.not_valid_after_utc.timestamp(),
    )


def draw_seal(name: str, path: Path, size_mm: float = 42.0, motto: str = SEAL_MOTTO) -> Path:
    """A round red seal (公章): ring, five-pointed star, ``name`` along the upper arc, ``motto`` below."""
    font = font_name()
    side = size_mm * mm
    c = Canvas(str(path), pagesize=(side, side), pageCompression=1)
    c.setStrokeColor(SEAL_RED)
    c.setFillColor(SEAL_RED)
    cx = cy = side / 2
    r = side / 2 - 1.2 * mm
    c.setLineWidth(1.1 * mm)
    c.circle(cx, cy, r, stroke=1, fill=0)
    star_r = r * 0.3
    points = []
    for i in range(10):
        radius = star_r if i % 2 == 0 else star_r * 0.382
        angle = math.pi / 2 + i * math.pi / 5
        points.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    path_obj = c.beginPath()
    path_obj.moveTo(*points[0])
    for p in points[1:]:
        path_obj.lineTo(*p)
    path_obj.close()
    c.drawPath(path_obj, stroke=0, fill=1)
    chars = list(name)
    size = min(r * 0.28, r * 3.6 / max(len(chars), 1))
    span = min(math.radians(250), math.radians(22) * len(chars))
    text_r = r - 1.0 * mm - size
    for i, ch in enumerate(chars):
        angle = math.pi / 2 + span / 2 - (span * (i + 0.5) / len(chars))
        c.saveState()
        c.translate(cx + text_r * math.cos(angle), cy + text_r * math.sin(angle))
        c.rotate(math.degrees(angle) - 90)
        c.setFont(font, size)
        c.drawCentredString(0, 0, ch)
        c.restoreState()
    c.setFont(font, r * 0.16)
    c.drawCentredString(cx, cy - r * 0.62, motto)
    c.showPage()
    c.save()
    return path


def _asn1_certs(pem: str) -> list[asn1_x509.Certificate]:
    return [
        asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER))
        for c in x509.load_pem_x509_certificates(pem.encode())
    ] if pem.strip() else []  # fmt: skip


def sign_pdf(pdf: bytes, seal: SealMaterial, box_pt: tuple[float, float, float, float]) -> bytes:
    """PAdES-sign ``pdf`` with the seal's key; the seal image is the visible signature at ``box_pt``."""
    try:
        key_pem = seal.key_file.read_bytes()
    except OSError as err:
        raise SealError(f"seal key {seal.key_file.name} unreadable: {err}") from err
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
        key_der = key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        (cert,) = _asn1_certs(seal.cert_pem)[:1]
        signer = signers.SimpleSigner(
            signing_cert=cert,
            signing_key=asn1_keys.PrivateKeyInfo.load(key_der),
            cert_registry=SimpleCertificateStore.from_certs(_asn1_certs(seal.chain_pem)),  # type: ignore[no-untyped-call]
        )
        meta = signers.PdfSignatureMetadata(
            field_name=SEAL_FIELD,
            subfilter=fields.SigSeedSubFilter.PADES,
            name=seal.name,
            reason="证照签章",
            location="hallmesh",
        )
        style = StaticStampStyle.from_pdf_file(str(seal.appearance), border_width=0, background_opacity=1.0)
        pdf_signer = signers.PdfSigner(
            meta,
            signer=signer,
            stamp_style=style,
            new_field_spec=fields.SigFieldSpec(
                SEAL_FIELD, on_page=0, box=(int(box_pt[0]), int(box_pt[1]), int(box_pt[2]), int(box_pt[3]))
            ),
        )
        out = pdf_signer.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf)))
    except (ValueError, TypeError, PdfError, SigningError) as err:
        raise SealError(f"签章失败（{seal.name}）：{err}") from err
    assert isinstance(out, io.BytesIO)
    return out.getvalue()
