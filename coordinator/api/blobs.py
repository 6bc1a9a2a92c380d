"""``PUT`` / ``GET /api/v1/blobs/{sha256}``: agents' uploads and downloads, signed with their keys.

See protocols/blobs.py for the headers and what is signed. Every refusal names what is wrong and is counted
in ``hallmesh_blob_requests_total{op, outcome}``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Path, Request, Response, status
from fastapi.responses import FileResponse, JSONResponse
from sqlmodel import Session
from starlette.requests import ClientDisconnect

from coordinator.api.deps import CoordinatorDep
from coordinator.blobs.auth import SignatureRefused, SignedHeaders
from coordinator.blobs.store import BlobRejected
from coordinator.models.blob import BlobGrant
from coordinator.runtime import Coordinator
from protocols.blobs import BLOBS_PATH, signing_bytes

log = logging.getLogger(__name__)
router = APIRouter(prefix=BLOBS_PATH, tags=["blobs"])

Sha = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$", description="lower-case hex sha256 of the content")]


def _headers(request: Request) -> SignedHeaders:
    h = request.headers
    return SignedHeaders(
        h.get("x-hallmesh-agent"), h.get("x-hallmesh-time"), h.get("x-hallmesh-cert"), h.get("x-hallmesh-sig")
    )


def _refused(
    coordinator: Coordinator, op: str, err: SignatureRefused | BlobRejected, who: str
) -> JSONResponse:
    coordinator.blobs.outcomes[(op, err.reason)] += 1
    log.warning("blob %s from %s refused (%s): %s", op, who, err.reason, err)
    return JSONResponse({"detail": str(err), "reason": err.reason}, status_code=err.status)


@router.put(
    "/{sha256}", status_code=status.HTTP_201_CREATED, responses={200: {"description": "already stored"}}
)
async def put_blob(
    sha256: Sha,
    request: Request,
    coordinator: CoordinatorDep,
    content_length: Annotated[int | None, Header()] = None,
    content_type: Annotated[str | None, Header()] = None,
) -> Response:
    """Store a capture. Signed by the agent; the body must hash to ``sha256`` and be of ``Content-Type``."""
    who = request.headers.get("x-hallmesh-agent") or (request.client.host if request.client else "?")
    if content_length is None:
        coordinator.blobs.outcomes[("put", "no_length")] += 1
        raise HTTPException(status.HTTP_411_LENGTH_REQUIRED, "Content-Length is required")
    try:
        agent_id = coordinator.agent_auth.verify(
            _headers(request), partial(_put_message, sha256, content_length)
        )
        media_type = (content_type or "").split(";")[0].strip().lower()
        stored = await coordinator.blobs.put(sha256, media_type, content_length, _body(request), agent_id)
    except (SignatureRefused, BlobRejected) as err:
        return _refused(coordinator, "put", err, who)
    coordinator.blobs.outcomes[("put", "stored" if stored.created else "exists")] += 1
    body = {"sha256": stored.sha256, "size": stored.size, "media_type": stored.media_type}
    return JSONResponse(body, status_code=status.HTTP_201_CREATED if stored.created else status.HTTP_200_OK)


async def _body(request: Request) -> AsyncIterator[bytes]:
    try:
        async for chunk in request.stream():
            yield chunk
    except ClientDisconnect as err:
        raise BlobRejected(
            400, "truncated", "the client went away before the body ended: upload truncated"
        ) from err


def _put_message(sha256: str, size: int, agent_id: str, ts: float) -> bytes:
    return signing_bytes("PUT", agent_id, ts, sha256, size)


def _get_message(sha256: str, agent_id: str, ts: float) -> bytes:
    return signing_bytes("GET", agent_id, ts, sha256, -1)


@router.get("/{sha256}", response_class=FileResponse)
def get_blob(sha256: Sha, request: Request, coordinator: CoordinatorDep) -> Response:
    """A document an agent was told to print (it holds a grant for it). Signed like uploads."""
    who = request.headers.get("x-hallmesh-agent") or "?"
    try:
        agent_id = coordinator.agent_auth.verify(_headers(request), partial(_get_message, sha256))
    except SignatureRefused as err:
        return _refused(coordinator, "get", err, who)
    with Session(coordinator.engine) as session:
        grant = session.get(BlobGrant, (agent_id, sha256))
    blob = coordinator.blobs.get(sha256)
    if grant is None or grant.expires_at < time.time() or blob is None:
        coordinator.blobs.outcomes[("get", "not_granted")] += 1
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such blob for this agent")
    coordinator.blobs.outcomes[("get", "served")] += 1
    return FileResponse(coordinator.blobs.path(sha256), media_type=blob.media_type)
