"""The blob pipeline of the agent: spool a capture durably, upload it, then announce it (docs/blobs.md).

``capture`` (the sink a driver calls) writes the bytes to ``<data_dir>/spool/<capture_id>.blob`` (temp file,
fsync, rename) and records the pending upload in ``uploads.sqlite3`` (WAL, ``synchronous=FULL``) before it
returns — from then on a crash, a power cut or a week without the coordinator loses nothing. The upload loop
sends pending captures oldest first with ``PUT /api/v1/blobs/{sha256}``, signed with the agent's key
(protocols/blobs.py). Only after the store has the blob is the ``capture`` event committed to the outbox, and
only after that commit is the pending row deleted: a crash in between re-uploads (idempotent) and announces
the same ``capture_id`` again, which the coordinator files once. So a material never appears before its
bytes, and never twice.

Retries back off (1 s doubling to ``retry_max_s``, with jitter) on network errors, 5xx, 401/403 (a clock
being set, a renewal) and 429; a refusal that cannot change (400/411/413/415/422: the capture itself is bad)
moves the file to ``spool/failed/`` and announces a ``capture_failed`` event naming the reason, so the clerk
sees it instead of waiting.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import os
import random
import sqlite3
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import JsonValue

from edge_agent.config import BrokerConfig, CoordinatorConfig, UploadConfig
from edge_agent.drivers.base import Capture, CaptureFn, CaptureRef
from edge_agent.errors import DeviceError, OutboxFull
from edge_agent.recorder import Recorder
from protocols.blobs import H_AGENT, H_CERT, H_SIG, H_TIME, blob_path, signing_bytes
from protocols.ids import uuid7

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

DB_NAME: Final = "uploads.sqlite3"
PERMANENT: Final = frozenset({400, 404, 411, 413, 415, 422})
_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS pending (
    capture_id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    media_type TEXT NOT NULL,
    event TEXT NOT NULL,
    created REAL NOT NULL
);
"""


class Uploader:
    def __init__(
        self,
        data_dir: Path,
        agent_id: str,
        broker: BrokerConfig,
        coordinator: CoordinatorConfig | None,
        uploads: UploadConfig,
        recorder: Recorder,
    ) -> None:
        self.agent_id = agent_id
        self._broker = broker
        self._coordinator = coordinator
        self._cfg = uploads
        self._recorder = recorder
        self.spool = data_dir / "spool"
        (self.spool / "failed").mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(data_dir / DB_NAME, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._wake = asyncio.Event()
        self._client: httpx.AsyncClient | None = None
        self.uploaded = self.failed = 0
        for stale in self.spool.glob("*.tmp"):  # written but never recorded: the capture call did not return
            stale.unlink(missing_ok=True)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- the sink ----------------------------------------------------------------------------------------

    def pending(self) -> tuple[int, int]:
        """(captures waiting, their bytes)."""
        with self._lock:
            n, size = self._db.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM pending").fetchone()
        return int(n), int(size)

    def sink(self, device_id: str) -> CaptureFn:
        async def capture(c: Capture) -> CaptureRef:
            return await self.capture(device_id, c)

        return capture

    async def capture(self, device_id: str, c: Capture) -> CaptureRef:
        """Spool ``c`` durably and queue its upload; the returned ref is valid from now on."""
        if self._coordinator is None:
            raise DeviceError(
                "captures need the coordinator's address: add a [coordinator] section to the config"
            )
        if not c.data:
            raise DeviceError("the device produced an empty capture")
        _n, queued = self.pending()
        if queued + len(c.data) > self._cfg.spool_max_bytes:
            raise DeviceError(
                f"the upload spool is full ({queued} bytes waiting for the coordinator; limit {self._cfg.spool_max_bytes})"
            )
        capture_id = str(uuid7())
        sha256 = hashlib.sha256(c.data).hexdigest()
        event: dict[str, JsonValue] = {
            "capture_id": capture_id,
            "sha256": sha256,
            "size": len(c.data),
            "media_type": c.media_type,
            "kind": c.kind,
            "pages": c.pages,
            "case": _case_id(c.case),
            "cmd_id": c.cmd_id,
            "signs": c.signs,
            "captured_at": time.time(),
            "meta": c.meta,
        }
        await asyncio.to_thread(self._spool, capture_id, device_id, c, sha256, event)
        self._wake.set()
        return CaptureRef(sha256=sha256, size=len(c.data), media_type=c.media_type)

    def _spool(
        self, capture_id: str, device_id: str, c: Capture, sha256: str, event: dict[str, JsonValue]
    ) -> None:
        final = self.spool / f"{capture_id}.blob"
        tmp = final.with_suffix(".tmp")
        with tmp.open("wb") as out:
            out.write(c.data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, final)
        with self._lock:
            self._db.execute(
                "INSERT INTO pending VALUES (?, ?, ?, ?, ?, ?, ?)",
                (capture_id, device_id, sha256, len(c.data), c.media_type, json.dumps(event), time.time()),
            )

    # -- uploading ---------------------------------------------------------------------------------------

    def _next(self) -> tuple[str, str, str, int, str, dict[str, Any]] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT capture_id, device_id, sha256, size, media_type, event FROM pending ORDER BY created LIMIT 1"
            ).fetchone()
        if row is None:
            return None
        return row[0], row[1], row[2], int(row[3]), row[4], json.loads(row[5])

    def _done(self, capture_id: str, failed: bool = False) -> None:
        path = self.spool / f"{capture_id}.blob"
        with self._lock:
            self._db.execute("DELETE FROM pending WHERE capture_id = ?", (capture_id,))
        if failed:
            with contextlib.suppress(OSError):
                os.replace(path, self.spool / "failed" / path.name)
        else:
            path.unlink(missing_ok=True)

    async def run(self) -> None:
        """Upload pending captures until cancelled."""
        delay = 0.0
        try:
            while True:
                if delay:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), delay)
                self._wake.clear()
                item = self._next()
                if item is None:
                    delay = 0.0
                    await self._wake.wait()
                    continue
                ok = await self._upload_one(*item)
                if ok:
                    delay = 0.0
                else:
                    delay = min(self._cfg.retry_max_s, max(1.0, delay * 2)) * random.uniform(0.8, 1.2)
        finally:
            if self._client is not None:
                await self._client.aclose()
                self._client = None

    def _http(self) -> httpx.AsyncClient:
        import httpx  # loaded with the first upload, not by every agent at start

        if self._client is None:
            assert self._coordinator is not None
            ca = self._coordinator.ca
            self._client = httpx.AsyncClient(
                base_url=self._coordinator.url,
                verify=str(ca) if ca is not None else True,
                timeout=httpx.Timeout(self._cfg.timeout_s, connect=5.0),
            )
        return self._client

    def _signed(self, method: str, sha256: str, size: int) -> dict[str, str]:
        key: Any = serialization.load_pem_private_key(self._broker.key.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise DeviceError("the agent key is not an EC key")
        ts = time.time()
        sig = key.sign(signing_bytes(method, self.agent_id, ts, sha256, size), ec.ECDSA(hashes.SHA256()))
        return {
            H_AGENT: self.agent_id,
            H_TIME: f"{ts:.3f}",
            H_CERT: base64.b64encode(self._broker.cert.read_bytes()).decode(),
            H_SIG: base64.b64encode(sig).decode(),
        }

    async def _upload_one(
        self, capture_id: str, device_id: str, sha256: str, size: int, media_type: str, event: dict[str, Any]
    ) -> bool:
        import httpx

        path = self.spool / f"{capture_id}.blob"
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except OSError as err:
            log.error("capture %s: spool file unreadable (%s): dropped", capture_id, err)
            self._announce_failure(device_id, event, f"spool file lost: {err}")
            return True
        try:
            headers = {**self._signed("PUT", sha256, size), "Content-Type": media_type}
            resp = await self._http().put(blob_path(sha256), content=data, headers=headers)
        except (httpx.HTTPError, OSError, ValueError, DeviceError) as err:
            log.info("capture %s waits: upload failed: %s", capture_id, err or type(err).__name__)
            return False
        if resp.status_code in (200, 201):
            try:
                self._recorder.record(device_id, "capture", event)
            except OutboxFull:
                log.warning("capture %s uploaded; the outbox is full, announcing it later", capture_id)
                return False
            self._recorder.flush()  # committed before the pending row goes
            self._done(capture_id)
            self.uploaded += 1
            log.info("capture %s (%s, %d bytes) uploaded and announced", capture_id, sha256[:12], size)
            return True
        reason = _detail(resp)
        if resp.status_code in PERMANENT:
            log.error("capture %s refused by the coordinator (%d): %s", capture_id, resp.status_code, reason)
            self._announce_failure(device_id, event, f"{resp.status_code}: {reason}")
            return True
        log.warning("capture %s waits: coordinator answered %d: %s", capture_id, resp.status_code, reason)
        return False

    def _announce_failure(self, device_id: str, event: dict[str, Any], reason: str) -> None:
        try:
            self._recorder.record(
                device_id,
                "capture_failed",
                {k: event.get(k) for k in ("capture_id", "sha256", "size", "kind", "case", "cmd_id")}
                | {"reason": reason[:500]},
            )
            self._recorder.flush()
        except OutboxFull:
            log.error(
                "capture %s failed and the outbox is full: the failure is only in this log",
                event.get("capture_id"),
            )
        self._done(str(event.get("capture_id")), failed=True)
        self.failed += 1

    # -- downloads ---------------------------------------------------------------------------------------

    async def fetch(self, sha256: str) -> bytes:
        """A blob the coordinator granted this agent (a document to print); DeviceError naming the reason."""
        if self._coordinator is None:
            raise DeviceError(
                "fetching a document needs the coordinator's address ([coordinator] in the config)"
            )
        try:
            resp = await self._http().get(blob_path(sha256), headers=self._signed("GET", sha256, -1))
        except (httpx.HTTPError, OSError, ValueError) as err:
            raise DeviceError(f"cannot fetch document {sha256[:12]}: {err or type(err).__name__}") from err
        if resp.status_code != 200:
            raise DeviceError(f"cannot fetch document {sha256[:12]}: {resp.status_code} {_detail(resp)}")
        data = resp.content
        if hashlib.sha256(data).hexdigest() != sha256:
            raise DeviceError(f"document {sha256[:12]} arrived corrupted (hash mismatch)")
        return data


def _case_id(case: object) -> JsonValue:
    if isinstance(case, int) and not isinstance(case, bool):
        return case
    if isinstance(case, str) and case:
        return int(case) if case.isdigit() else case
    return None


def _detail(resp: httpx.Response) -> str:
    with contextlib.suppress(ValueError):
        body = resp.json()
        if isinstance(body, dict) and isinstance(body.get("detail"), str):
            return str(body["detail"])
    return resp.text[:200]
