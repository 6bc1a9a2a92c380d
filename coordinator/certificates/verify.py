"""Check a sealed PDF with pyHanko: intact, signed by a seal certificate that chains to a trusted root,
covering the whole file. Reasons are zh-CN sentences for the public verify page."""

from __future__ import annotations

import asyncio
import io
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from asn1crypto import x509 as asn1_x509  # type: ignore[import-untyped]
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

log = logging.getLogger(__name__)


@dataclass
class SignatureCheck:
    ok: bool = False
    intact: bool = False
    valid: bool = False
    trusted: bool = False
    whole_file: bool = False
    signer: str = ""
    signer_serial: str = ""
    signed_at: float | None = None
    reasons: list[str] = field(default_factory=list)


def trust_roots(pems: list[str]) -> list[asn1_x509.Certificate]:
    roots = []
    for pem in pems:
        for cert in x509.load_pem_x509_certificates(pem.encode()):
            roots.append(asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)))
    return roots


def check_signature(data: bytes, roots: list[asn1_x509.Certificate]) -> SignatureCheck:
    out = SignatureCheck()
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        sigs = reader.embedded_signatures
    except (PdfError, ValueError, KeyError, TypeError, IndexError) as err:
        out.reasons.append(f"文件不是可读取的 PDF：{err}")
        return out
    if not sigs:
        out.reasons.append("文件中没有电子签章")
        return out
    if len(sigs) > 1:
        out.reasons.append(f"文件中有 {len(sigs)} 个签章，只应有一个部门签章")
    sig = sigs[0]
    try:
        status = _validate(sig, ValidationContext(trust_roots=roots))
    except (SignatureValidationError, PdfError, ValueError, KeyError, TypeError) as err:
        out.reasons.append(f"签章无法验证：{err}")
        return out
    out.intact, out.valid, out.trusted = status.intact, status.valid, status.trusted
    out.whole_file = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    out.signer = status.signing_cert.subject.native.get("common_name", "")
    out.signer_serial = f"{status.signing_cert.serial_number:x}"
    if status.signer_reported_dt is not None:
        out.signed_at = status.signer_reported_dt.timestamp()
    if not status.intact:
        out.reasons.append("文件内容在签章后被改动（摘要不符）")
    elif not status.valid:
        out.reasons.append("签章的密码学校验失败")
    if out.intact and out.valid and not status.trusted:
        out.reasons.append("签章证书不是由本平台的证书机构签发，或已过期")
    if not out.whole_file:
        out.reasons.append("签章没有覆盖整个文件（签章后追加了内容）")
    out.ok = out.intact and out.valid and out.trusted and out.whole_file and len(sigs) == 1
    return out


def _validate(sig: EmbeddedPdfSignature, context: ValidationContext) -> PdfSignatureStatus:
    """pyHanko's synchronous validation runs its own event loop: from a thread that has one running (an async
    caller), run it on a short-lived thread instead."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return validate_pdf_signature(sig, context)
    with ThreadPoolExecutor(1, thread_name_prefix="pdf-validate") as pool:
        return pool.submit(validate_pdf_signature, sig, context).result()
