"""``POST /api/v1/cases/{id}/materials``: upload a file (PDF, JPEG, PNG) as a material of the case — what the
window's devices did not capture — optionally straight into a required-material slot."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Final

from fastapi import APIRouter, HTTPException, Query, Request, status

from coordinator.api.deps import CoordinatorDep, SessionDep
from coordinator.api.principal import PrincipalDep
from coordinator.blobs.store import BlobRejected, BlobStore
from coordinator.cases import workflow as case_workflow
from coordinator.models.case import MaterialPublic
from workflow import case_engine
from workflow.case_engine import Command
from workflow.case_states import Action as Move
from workflow.cases import Case, Material
from workflow.errors import InvalidInput
from workflow.scope import Action

router = APIRouter(prefix="/api/v1", tags=["case workflow"])
UPLOAD_TYPES: Final = frozenset({"application/pdf", "image/jpeg", "image/png"})


async def _once(body: bytes) -> AsyncIterator[bytes]:
    yield body


@router.post("/cases/{case_id}/materials", status_code=status.HTTP_201_CREATED)
async def upload(
    case_id: int,
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    coordinator: CoordinatorDep,
    slot: Annotated[str | None, Query(max_length=200, description="the required material it fills")] = None,
) -> MaterialPublic:
    """The request body is the file; ``Content-Type`` says what it is (checked against the bytes)."""
    scope = principal.scope
    scope.require(Action.CASE_HANDLE)
    case = scope.get(session, Case, case_id)
    content = case_engine.rules(session, case.item_version_id).content
    names = [m.name for m in content.materials] if content is not None else []
    window_id = case.window_id
    session.rollback()  # no transaction (SQLite: no write lock) held while the body arrives
    media_type = request.headers.get("content-type", "").split(";")[0].strip()
    if media_type not in UPLOAD_TYPES:
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, f"只能上传 {'、'.join(sorted(UPLOAD_TYPES))}"
        )
    if slot is not None and slot not in names:
        raise InvalidInput(f"“{slot}”不是该事项的申请材料（可选：{'、'.join(names) or '无'}）")
    blobs: BlobStore | None = getattr(coordinator, "blobs", None)
    if blobs is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "coordinator is starting")
    declared = int(request.headers.get("content-length") or 0)
    if declared > blobs.max_bytes:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"文件超过 {blobs.max_bytes} 字节")
    body = await request.body()
    sha256 = hashlib.sha256(body).hexdigest()
    try:
        await blobs.put(sha256, media_type, len(body), _once(body), f"upload:{scope.staff_id}")
    except BlobRejected as err:
        raise HTTPException(err.status, str(err)) from err
    now = time.time()
    material = Material(case_id=case_id, window_id=window_id, kind="upload", sha256=sha256, size=len(body),
                        media_type=media_type, agent_id="upload", device_id="", capture_id=uuid.uuid4().hex,
                        captured_at=now, filed_at=now, clerk_id=scope.staff_id)  # fmt: skip
    session.add(material)
    session.commit()
    if slot is not None:
        cmd = Command(action=Move.ASSIGN_MATERIAL, material_id=material.id, slot=slot)
        case_workflow.act(session, coordinator.case_hooks, scope, case_id, cmd, coordinator.case_policy)
    session.refresh(material)
    return MaterialPublic.model_validate(material, from_attributes=True)
