"""``/api/v1/app``: what the staff web app (``/app/``) needs beyond the case and organisation APIs.

``GET /api/v1/app/windows`` lists the windows within the signed-in person's scope with the live state of the
counter PC bound to each (online, last seen, devices with status and last error) — the clerk's window chooser
and the technician's view. The registry itself (``/api/v1/agents``) stays behind the service token.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from sqlmodel import col

from coordinator.api.deps import CoordinatorDep, SessionDep
from coordinator.api.principal import PrincipalDep
from workflow.org import Window
from workflow.scope import Action

router = APIRouter(prefix="/api/v1/app", tags=["staff app"])


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
