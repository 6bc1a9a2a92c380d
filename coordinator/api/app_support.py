"""``/api/v1/app``: what the staff web app (``/app/``) needs beyond the case and organisation APIs.

``GET /api/v1/app/windows`` lists the windows within the signed-in person's scope with the live state of the
counter PC bound to each (online, last seen, devices with status and last error) — the clerk's window chooser
and the technician's view. The registry itself (``/api/v1/agents``) stays behind the service token.

``POST /api/v1/app/windows/{id}/preview`` (clerks) asks the window's document camera for its live preview and
answers with the MJPEG URL on the counter PC's loopback (DESIGN §2 flow 1), or 404 when there is none.

``POST /api/v1/app/windows/{id}/devices/{device}/test`` (technicians) sends a device of the window its one
harmless test command (``TEST_ACTIONS``) and answers with the outcome.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel
from sqlmodel import Session, col

from coordinator.api.deps import CoordinatorDep, SessionDep
from coordinator.api.principal import PrincipalDep
from coordinator.errors import CommandError
from coordinator.models import CommandCreate, CommandRow, CommandStatus
from coordinator.models.command import OPEN_STATUSES
from coordinator.runtime import Coordinator
from workflow.org import Window
from workflow.scope import Action

router = APIRouter(prefix="/api/v1/app", tags=["staff app"])
COMMAND_WAIT_S = 5.0
TEST_ACTIONS = {"printer": "test_page", "sigpad": "clear", "doccam": "preview", "onvif": "presets",
                "terminal": "status", "sim": "echo"}  # fmt: skip
"""the harmless command a technician may send to test a device, by kind"""


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


class DeviceTest(BaseModel):
    device_id: str
    action: str
    status: str
    result: dict[str, Any] | None
    error: str | None


def _run(coordinator: Coordinator, agent_id: str, device_id: str, action: str) -> CommandRow:
    """Send ``action`` (no arguments) and wait up to ``COMMAND_WAIT_S`` for its end; the row as it is then."""
    if coordinator.commands is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "coordinator is starting")
    try:
        cmd_id = coordinator.commands.create(
            agent_id, device_id, CommandCreate(action=action, ttl_s=COMMAND_WAIT_S)
        )
    except CommandError as err:
        raise HTTPException(status.HTTP_409_CONFLICT, str(err)) from err
    deadline = time.monotonic() + COMMAND_WAIT_S
    while True:
        with Session(coordinator.engine) as s:
            row = s.get(CommandRow, cmd_id)
        if row is None:  # swept away already: report it as expired
            raise HTTPException(status.HTTP_504_GATEWAY_TIMEOUT, f"command {cmd_id} is gone")
        if row.status not in OPEN_STATUSES or time.monotonic() >= deadline:
            return row
        time.sleep(0.1)


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
    if live is None or not live.online or not cams:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no live preview at this window")
    session.commit()  # end this read: on SQLite it holds the write lock the command insert needs
    row = _run(coordinator, live.id, cams[0], "preview")
    if row.status != CommandStatus.DONE or not row.result or not row.result.get("url"):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no live preview at this window")
    snap = row.result.get("snapshot")
    return Preview(url=str(row.result["url"]), snapshot=str(snap) if snap else None)


@router.post("/windows/{window_id}/devices/{device_id}/test")
def run_device_test(
    window_id: int, device_id: str, principal: PrincipalDep, session: SessionDep, coordinator: CoordinatorDep
) -> DeviceTest:
    """A harmless test command on one of the window's devices (technicians): a printer's test page, a pad's
    clear, a document camera's preview, an ONVIF camera's presets, a terminal's status. Waits a few seconds
    for the outcome."""
    principal.scope.require(Action.WINDOW_BIND)
    window = principal.scope.get(session, Window, window_id)
    live = coordinator.live.get(window.agent_id) if window.agent_id else None
    device = live.devices.get(device_id) if live else None
    if live is None or device is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such device at this window")
    action = TEST_ACTIONS.get(device.kind)
    if action is None or action not in device.commands:
        raise HTTPException(status.HTTP_409_CONFLICT, f"no test command for a {device.kind or 'device'}")
    session.commit()
    row = _run(coordinator, live.id, device_id, action)
    return DeviceTest(
        device_id=device_id, action=action, status=row.status, result=row.result, error=row.error
    )
