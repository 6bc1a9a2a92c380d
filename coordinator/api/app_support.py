"""``/api/v1/app``: what the staff web app (``/app/``) needs beyond the case and organisation APIs.

``GET /api/v1/app/windows`` lists the windows within the signed-in person's scope with the live state of the
counter PC bound to each (online, last seen, devices with status and last error) — the clerk's window chooser
and the technician's view. The registry itself (``/api/v1/agents``) stays behind the service token.

``POST /api/v1/app/windows/{id}/preview`` (clerks) asks the window's document camera for its live preview and
answers with the MJPEG URL on the counter PC's loopback (DESIGN §2 flow 1), or 404 when there is none.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel
from sqlmodel import Session, col

from coordinator.api.deps import CoordinatorDep, SessionDep
from coordinator.api.principal import PrincipalDep
from coordinator.errors import CommandError
from coordinator.models import CommandCreate, CommandRow, CommandStatus
from workflow.org import Window
from workflow.scope import Action

router = APIRouter(prefix="/api/v1/app", tags=["staff app"])
PREVIEW_WAIT_S = 5.0


class DeviceState(BaseModel):
    device_id: str
    kind: str
    model: str
    status: str
    reason: str
    last_error: str | None
    since: float | None
    commands: list[str]


class WindowState(BaseModel):
    id: int
    number: str
    name: str
    unit_id: int
    department_id: int | None
    agent_id: str | None
    online: bool
    last_seen: float | None
    devices: list[DeviceState]


@router.get("/windows")
def windows(principal: PrincipalDep, session: SessionDep, coordinator: CoordinatorDep) -> list[WindowState]:
    """Windows within my scope, each with its agent's live state (empty when no agent is bound or known)."""
    principal.scope.require(Action.ORG_READ)
    rows = session.exec(principal.scope.select(Window).order_by(col(Window.unit_id), col(Window.number)))
    out = []
    for w in rows:
        live = coordinator.live.get(w.agent_id) if w.agent_id else None
        devices = [
            DeviceState(device_id=d.device_id, kind=d.kind, model=d.model, status=d.status, reason=d.reason,
                        last_error=d.last_error, since=d.since, commands=list(d.commands))
            for d in sorted(live.devices.values(), key=lambda d: d.device_id)
        ] if live else []  # fmt: skip
        state = WindowState(id=w.id or 0, number=w.number, name=w.name, unit_id=w.unit_id,
                            department_id=w.department_id, agent_id=w.agent_id, online=bool(live and live.online),
                            last_seen=live.last_seen if live else None, devices=devices)  # fmt: skip
        out.append(state)
    return out


class Preview(BaseModel):
    url: str
    snapshot: str | None


@router.post("/windows/{window_id}/preview")
def preview(
    window_id: int, principal: PrincipalDep, session: SessionDep, coordinator: CoordinatorDep
) -> Preview:
    """The window's live document-camera preview URL (loopback of its counter PC), if its doccam offers one."""
    principal.scope.require(Action.CASE_HANDLE)
    window = principal.scope.get(session, Window, window_id)
    live = coordinator.live.get(window.agent_id) if window.agent_id else None
    devices = live.devices.values() if live else []
    cams = sorted(d.device_id for d in devices if d.kind == "doccam" and "preview" in d.commands)
    if live is None or not live.online or not cams or coordinator.commands is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no live preview at this window")
    session.commit()  # end this read: on SQLite it holds the write lock the command insert needs
    try:
        cmd_id = coordinator.commands.create(
            live.id, cams[0], CommandCreate(action="preview", ttl_s=PREVIEW_WAIT_S)
        )
    except CommandError as err:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no live preview: {err}") from err
    deadline = time.monotonic() + PREVIEW_WAIT_S
    while time.monotonic() < deadline:
        with Session(coordinator.engine) as s:
            row = s.get(CommandRow, cmd_id)
        if row is not None and row.status == CommandStatus.DONE and row.result and row.result.get("url"):
            snap = row.result.get("snapshot")
            return Preview(url=str(row.result["url"]), snapshot=str(snap) if snap else None)
        if row is not None and row.status not in (CommandStatus.PENDING, CommandStatus.SENT):
            break
        time.sleep(0.1)
    raise HTTPException(status.HTTP_404_NOT_FOUND, "no live preview at this window")
