"""Where blob bytes live: ``<data_dir>/blobs/<aa>/<bb>/<sha256>``, written atomically.

An upload streams into ``blobs/tmp/`` while it is hashed and counted; only when the size equals the declared
``Content-Length``, the sha256 equals the name and the first bytes show the declared media type is the file
fsynced and renamed into place (and then recorded in the ``blob`` table). A failed upload leaves nothing:
no half-written file is ever visible under its hash, and a retry of the same blob is idempotent.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from coordinator.db import reader
from coordinator.ingest.rows import dialect_insert
from coordinator.models.blob import Blob
from protocols.blobs import MEDIA_TYPES, SHA256_RE, sniff

log = logging.getLogger(__name__)

BLOBS: sa.Table = Blob.__table__  # type: ignore[attr-defined]
SNIFF_BYTES = 16


class BlobRejected(Exception):
    """An upload the store refuses; ``reason`` is a short label for metrics, ``status`` the HTTP status."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Stored:
    sha256: str
    size: int
    media_type: str
    created: bool


class BlobStore:
    def __init__(self, root: Path, engine: Engine, max_bytes: int) -> None:
        self.root = root
        self.engine = engine
        self.max_bytes = max_bytes
        self.outcomes: Counter[tuple[str, str]] = Counter()
        """(op, outcome) → requests since start (the API counts here; /metrics reads it)."""
        self._tmp = root / "tmp"
        self._tmp.mkdir(parents=True, exist_ok=True)
        for stale in self._tmp.iterdir():  # uploads cut off by a crash
            stale.unlink(missing_ok=True)

    def path(self, sha256: str) -> Path:
        if not SHA256_RE.match(sha256):
            raise BlobRejected(400, "bad_hash", "the blob name must be a lower-case hex sha256")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def get(self, sha256: str) -> Blob | None:
        with reader(self.engine).connect() as conn:
            row = conn.execute(sa.select(BLOBS).where(BLOBS.c.sha256 == sha256)).first()
        if row is None or not self.path(sha256).exists():
            return None
        return Blob(**row._mapping)

    async def put(
        self, sha256: str, media_type: str, size: int, chunks: AsyncIterator[bytes], source: str
    ) -> Stored:
        """Store the upload named ``sha256``; raise :class:`BlobRejected` naming what is wrong."""
        final = self.path(sha256)
        if media_type not in MEDIA_TYPES:
            raise BlobRejected(
                415, "media_type", f"media type {media_type!r} is not accepted: {sorted(MEDIA_TYPES)}"
            )
        if size < 1:
            raise BlobRejected(400, "empty", "an empty blob is not accepted")
        if size > self.max_bytes:
            raise BlobRejected(413, "too_large", f"the blob is {size} bytes; the limit is {self.max_bytes}")
        existing = self.get(sha256)
        if existing is not None:
            async for _ in chunks:  # the client sends the body anyway; read and drop it
                pass
            return Stored(sha256, existing.size, existing.media_type, created=False)
        tmp = self._tmp / f"{uuid.uuid4().hex}.part"
        digest = hashlib.sha256()
        received = 0
        head = b""
        try:
            with tmp.open("wb") as out:
                async for chunk in chunks:
                    received += len(chunk)
                    if received > size:
                        raise BlobRejected(
                            400, "size_mismatch", f"the body is longer than Content-Length {size}"
                        )
                    if len(head) < SNIFF_BYTES:
                        head += chunk[: SNIFF_BYTES - len(head)]
                    digest.update(chunk)
                    out.write(chunk)
                if received != size:
                    raise BlobRejected(
                        400, "truncated", f"the body ended after {received} of {size} bytes: upload truncated"
                    )
                if digest.hexdigest() != sha256:
                    raise BlobRejected(
                        422, "hash_mismatch", f"the body's sha256 is {digest.hexdigest()}, not {sha256}"
                    )
                found = sniff(head)
                if found != media_type:
                    raise BlobRejected(
                        415,
                        "type_mismatch",
                        f"declared {media_type} but the bytes are {found or 'of an unknown type'}",
                    )
                out.flush()
                os.fsync(out.fileno())
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, final)
            _fsync_dir(final.parent)
        finally:
            tmp.unlink(missing_ok=True)
        with self.engine.begin() as conn:
            conn.execute(
                dialect_insert(conn, BLOBS).on_conflict_do_nothing(),
                {
                    "sha256": sha256,
                    "size": size,
                    "media_type": media_type,
                    "created_at": time.time(),
                    "source": source,
                },
            )
        log.info("blob %s stored (%d bytes, %s) from %s", sha256[:12], size, media_type, source)
        return Stored(sha256, size, media_type, created=True)

    def put_bytes(self, data: bytes, media_type: str, source: str = "coordinator") -> str:
        """Store bytes the coordinator made itself (a certificate PDF, a test page); returns the sha256."""
        sha256 = hashlib.sha256(data).hexdigest()
        final = self.path(sha256)
        if not final.exists():
            tmp = self._tmp / f"{uuid.uuid4().hex}.part"
            with tmp.open("wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, final)
        with self.engine.begin() as conn:
            conn.execute(
                dialect_insert(conn, BLOBS).on_conflict_do_nothing(),
                {
                    "sha256": sha256,
                    "size": len(data),
                    "media_type": media_type,
                    "created_at": time.time(),
                    "source": source,
                },
            )
        return sha256


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
