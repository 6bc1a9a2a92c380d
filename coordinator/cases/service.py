"""Cases at the counter: open one at a window, keep it in front of the clerk, capture into it from the
window's devices and print on the window's printer. Every id a person names goes through their
:class:`~workflow.scope.Scope`, so a case outside it does not exist for them.

Device roles: the window's agent's devices are found by kind — ``scanner`` (action ``scan``), ``doccam``
(``capture``), ``sigpad`` (``sign``), ``printer`` (``print``) — or named by device id when a window has two.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Final

from pydantic import JsonValue
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from coordinator.blobs.store import BlobStore
from coordinator.cases import workflow as case_workflow
from coordinator.cases.hooks import CaseHooks
from coordinator.commands import CommandService
from coordinator.errors import CommandError
from coordinator.models.blob import BlobGrant
from coordinator.models.command import CommandCreate
from coordinator.state import LiveState
from workflow import case_engine
from workflow.cases import Case, CaseStatus, CounterCase, Material
from workflow.catalog import CatalogItem, ItemVersion, VersionStatus
from workflow.errors import Conflict, InvalidInput, NotFound
from workflow.org import Window
from workflow.scope import Action, Scope

CAPTURE_ACTIONS: Final = {"scanner": "scan", "doccam": "capture", "sigpad": "sign"}
PRINT_GRANT_S: Final = 24 * 3600.0
"""How long a printer's agent may fetch the document it was told to print (covers a long outage)."""


@dataclass(frozen=True)
class OpenCase:
    window_id: int | None
    item_version_id: int | None
    title: str = ""
    applicant_name: str = ""
    applicant_id_number: str = ""
    applicant_phone: str = ""
    channel: str = "1"


def open_case(session: Session, scope: Scope, hooks: CaseHooks, new: OpenCase) -> Case:
    """A case submitted at a window (it becomes the window's current case) or online (no window: it belongs
    to the unit and department of its item)."""
    scope.require(Action.CASE_HANDLE)
    window = scope.get(session, Window, new.window_id) if new.window_id is not None else None
    version = (
        scope.get(session, ItemVersion, new.item_version_id) if new.item_version_id is not None else None
    )
    if version is not None and version.status != VersionStatus.PUBLISHED:
        raise InvalidInput("只能按已发布的事项版本申请")
    if window is not None:
        unit_id, department_id = window.unit_id, window.department_id
    elif version is not None:
        item = session.get(CatalogItem, version.item_id)
        assert item is not None
        unit_id, department_id = item.unit_id, item.department_id
    else:
        raise InvalidInput("请指定受理窗口，或网上申请的事项版本")
    now = time.time()
    case = Case(
        code=f"HM{time.strftime('%Y%m%d', time.localtime(now))}{uuid.uuid4().hex[:10].upper()}",
        unit_id=unit_id,
        department_id=department_id,
        window_id=window.id if window is not None else None,
        item_version_id=new.item_version_id,
        title=new.title or (version.name if version is not None else ""),
        applicant_name=new.applicant_name,
        applicant_id_number=new.applicant_id_number,
        applicant_phone=new.applicant_phone,
        channel=new.channel,
        opened_by=scope.staff_id,
        opened_at=now,
    )
    case_engine.submit(session, case, scope.staff_id, _roles(scope), now)
    if window is not None:
        assert case.id is not None
        assert window.id is not None
        _set_current(session, window.id, case.id, now)
    return case_workflow.commit_new(session, hooks, case)


def _roles(scope: Scope) -> str:
    return ",".join(sorted(str(r) for r in scope.roles))


def get_case(session: Session, scope: Scope, case_id: int) -> Case:
    scope.require(Action.CASE_READ)
    return scope.get(session, Case, case_id)


def focus_case(session: Session, scope: Scope, case_id: int) -> Case:
    scope.require(Action.CASE_HANDLE)
    case = scope.get(session, Case, case_id)
    if case.status != CaseStatus.OPEN or case.window_id is None or case.id is None:
        raise Conflict("只有窗口上未结束的办件可以设为当前办件")
    _set_current(session, case.window_id, case.id, time.time())
    session.commit()
    return case


def close_case(session: Session, scope: Scope, case_id: int) -> Case:
    """Take the case off the counter (no more captures into it); its workflow goes on."""
    scope.require(Action.CASE_HANDLE)
    case = scope.get(session, Case, case_id)
    if case.status != CaseStatus.OPEN:
        raise Conflict("办件已结束")
    case.status = CaseStatus.CLOSED
    case.closed_at = time.time()
    current = session.exec(select(CounterCase).where(CounterCase.case_id == case.id)).first()
    if current is not None:
        session.delete(current)
    session.add(case)
    session.commit()
    session.refresh(case)
    return case


def _set_current(session: Session, window_id: int, case_id: int, now: float) -> None:
    current = session.get(CounterCase, window_id)
    if current is None:
        session.add(CounterCase(window_id=window_id, case_id=case_id, since=now))
    else:
        current.case_id, current.since = case_id, now
        session.add(current)


class CaseService:
    def __init__(self, engine: Engine, live: LiveState, commands: CommandService, blobs: BlobStore,
                 hooks: CaseHooks | None = None) -> None:  # fmt: skip
        self.engine = engine
        self.live = live
        self.commands = commands
        self.blobs = blobs
        self.hooks = hooks or CaseHooks()

    # -- cases (session only: see the module functions) -------------------------------------------------

    def open(self, session: Session, scope: Scope, window_id: int, title: str, applicant_name: str,
             applicant_id_number: str) -> Case:  # fmt: skip
        return open_case(session, scope, self.hooks, OpenCase(window_id, None, title, applicant_name,
                                                              applicant_id_number))  # fmt: skip

    def get(self, session: Session, scope: Scope, case_id: int) -> Case:
        return get_case(session, scope, case_id)

    def focus(self, session: Session, scope: Scope, case_id: int) -> Case:
        return focus_case(session, scope, case_id)

    def close(self, session: Session, scope: Scope, case_id: int) -> Case:
        return close_case(session, scope, case_id)

    def materials(self, session: Session, scope: Scope, case_id: int) -> list[Material]:
        case = self.get(session, scope, case_id)
        return list(
            session.exec(select(Material).where(Material.case_id == case.id).order_by(col(Material.id)))
        )

    def material(self, session: Session, scope: Scope, case_id: int, material_id: int) -> Material:
        case = self.get(session, scope, case_id)
        m = session.get(Material, material_id)
        if m is None or m.case_id != case.id:
            raise NotFound("材料不存在")
        return m

    def unfiled(self, session: Session, scope: Scope, window_id: int) -> list[Material]:
        scope.require(Action.CASE_HANDLE)
        window = scope.get(session, Window, window_id)
        query = select(Material).where(Material.window_id == window.id, col(Material.case_id).is_(None))
        return list(session.exec(query.order_by(col(Material.id))))

    def file_unfiled(self, session: Session, scope: Scope, case_id: int, material_id: int) -> Material:
        """Put a capture that arrived with no case open into ``case_id`` (same window)."""
        case = self.focus(session, scope, case_id)
        m = session.get(Material, material_id)
        if m is None or m.case_id is not None or m.window_id != case.window_id:
            raise NotFound("材料不存在")
        m.case_id = case.id
        session.add(m)
        session.commit()
        session.refresh(m)
        return m

    # -- devices -----------------------------------------------------------------------------------------

    def _device(self, agent_id: str, kind: str, device_id: str | None) -> str:
        agent = self.live.get(agent_id)
        if agent is None:
            raise CommandError(f"窗口终端 {agent_id} 未注册")
        if device_id is not None:
            d = agent.devices.get(device_id)
            if d is None or d.kind != kind:
                raise CommandError(f"窗口没有 {kind} 设备 {device_id}")
            return device_id
        found = sorted(d.device_id for d in agent.devices.values() if d.kind == kind)
        if not found:
            raise CommandError(f"窗口终端 {agent_id} 没有 {kind} 设备")
        if len(found) > 1:
            raise CommandError(f"窗口有多台 {kind} 设备（{', '.join(found)}）：请指定 device")
        return found[0]

    def _window_agent(self, session: Session, case: Case) -> str:
        window = session.get(Window, case.window_id) if case.window_id is not None else None
        if window is None or window.agent_id is None:
            raise InvalidInput("办件所在窗口没有绑定终端")
        return window.agent_id

    def capture(self, session: Session, scope: Scope, case_id: int, kind: str, device_id: str | None,
                args: dict[str, JsonValue]) -> tuple[str, str, uuid.UUID]:  # fmt: skip
        """Start a capture on the case's window: returns (agent, device, command id)."""
        scope.require(Action.CASE_HANDLE)
        case = scope.get(session, Case, case_id)
        if case.status != CaseStatus.OPEN:
            raise Conflict("办件已结束，不能再采集材料")
        action = CAPTURE_ACTIONS.get(kind)
        if action is None:
            raise InvalidInput(f"未知的采集设备类型 {kind}：可用 {', '.join(CAPTURE_ACTIONS)}")
        agent_id = self._window_agent(session, case)
        device = self._device(agent_id, kind, device_id)
        cmd_args: dict[str, JsonValue] = {**args, "case": case.id}
        session.commit()  # end this read: on SQLite it holds the write lock the command insert needs
        cmd_id = self.commands.create(
            agent_id, device, CommandCreate(action=action, args=cmd_args, ttl_s=None)
        )
        return agent_id, device, cmd_id

    def print_material(self, session: Session, scope: Scope, case_id: int, material_id: int,
                       device_id: str | None, copies: int) -> tuple[str, str, uuid.UUID]:  # fmt: skip
        scope.require(Action.CASE_HANDLE)
        m = self.material(session, scope, case_id, material_id)
        case = scope.get(session, Case, case_id)
        agent_id = self._window_agent(session, case)
        device = self._device(agent_id, "printer", device_id)
        return (
            agent_id,
            device,
            self.print_blob(session, agent_id, device, m.sha256, case.id, copies, m.media_type),
        )

    def print_blob(self, session: Session, agent_id: str, device: str, sha256: str, case_id: int | None,
                   copies: int, media_type: str) -> uuid.UUID:  # fmt: skip
        """Let ``agent_id`` read ``sha256`` and tell its printer to print it (also used for certificates)."""
        grant = session.get(BlobGrant, (agent_id, sha256)) or BlobGrant(
            agent_id=agent_id, sha256=sha256, expires_at=0
        )
        grant.expires_at = time.time() + PRINT_GRANT_S
        session.add(grant)
        session.commit()
        args: dict[str, JsonValue] = {
            "sha256": sha256,
            "copies": copies,
            "media_type": media_type,
            "case": case_id,
        }
        return self.commands.create(agent_id, device, CommandCreate(action="print", args=args, ttl_s=None))
