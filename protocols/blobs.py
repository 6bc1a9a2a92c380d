"""The HTTP contract of the content-addressed blob store (DESIGN.md §4, docs/blobs.md).

Large captures (scans, photos, signatures, PDFs) never ride MQTT. The agent uploads each one with
``PUT /api/v1/blobs/{sha256}`` and only then announces it with a ``capture`` event that names the hash; a
printer's agent reads a document with ``GET /api/v1/blobs/{sha256}``.

Both requests are **signed with the agent's key** (the one its MQTT certificate holds), like renewal:

======================  ================================================================================
header                  value
======================  ================================================================================
``X-Hallmesh-Agent``    the agent id (the certificate's CN)
``X-Hallmesh-Time``     Unix seconds, within :data:`MAX_REQUEST_SKEW_S` of the coordinator's clock
``X-Hallmesh-Cert``     the agent's current certificate, PEM, base64-encoded (one header line)
``X-Hallmesh-Sig``      base64 ECDSA-SHA256 signature over :func:`signing_bytes`
======================  ================================================================================

The signature covers the method, the hash, the declared size and the time, so a captured request cannot be
replayed for another blob, and the hash is checked against the body, so a body cannot be swapped.
"""

from __future__ import annotations

import re
from typing import Final

BLOBS_PATH: Final = "/api/v1/blobs"
SHA256_RE: Final = re.compile(r"^[0-9a-f]{64}$")
MAX_REQUEST_SKEW_S: Final = 300.0

H_AGENT: Final = "X-Hallmesh-Agent"
H_TIME: Final = "X-Hallmesh-Time"
H_CERT: Final = "X-Hallmesh-Cert"
H_SIG: Final = "X-Hallmesh-Sig"

MEDIA_TYPES: Final = frozenset({"application/pdf", "image/jpeg", "image/png", "application/json"})
"""What the store accepts; the declared ``Content-Type`` must match what the bytes are."""


def blob_path(sha256: str) -> str:
    if not SHA256_RE.match(sha256):
        raise ValueError(f"not a lower-case hex sha256: {sha256[:80]!r}")
    return f"{BLOBS_PATH}/{sha256}"


def signing_bytes(method: str, agent_id: str, ts: float, sha256: str, size: int) -> bytes:
    """What the agent signs for one blob request (``size`` is -1 for a GET)."""
    return f"hallmesh-blob-v1\n{method.upper()}\n{agent_id}\n{ts:.3f}\n{sha256}\n{size}".encode()


def sniff(data: bytes) -> str | None:
    """The media type the first bytes show, among :data:`MEDIA_TYPES`, or ``None``."""
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    head = data.lstrip()[:1]
    if head in (b"{", b"["):
        return "application/json"
    return None
