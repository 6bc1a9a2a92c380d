"""Commands: ``POST /api/v1/agents/{agent}/devices/{device}/commands`` (202), ``GET /api/v1/commands…``."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status
from sqlmodel import col, select

from coordinator.api.deps import Authenticated, CommandsDep, SessionDep
from coordinator.errors import NotFoundError
from coordinator.models import CommandCreate, CommandPublic, CommandRow, CommandsPublic, CommandStatus

router = APIRouter(prefix="/api/v1", tags=["commands"], dependencies=[Authenticated])


@router.post("/agents/{agent_id}/devices/{device_id}/commands", status_code=status.HTTP_202_ACCEPTED)
def create_command(
    agent_id: str, device_id: str, req: CommandCreate, commands: CommandsDep, session: SessionDep
) -> CommandPublic:
    """Record the command and publish it to the agent; ``device_id = @agent`` addresses the agent itself."""
    cmd_id = commands.create(agent_id, device_id, req)
    return get_command(cmd_id, session)


@router.get("/commands/{cmd_id}")
def get_command(cmd_id: uuid.UUID, session: SessionDep) -> CommandPublic:
    row = session.get(CommandRow, cmd_id)
    if row is None:
        raise NotFoundError(f"no command {cmd_id}")
    return CommandPublic.model_validate(row, from_attributes=True)


@router.get("/commands")
def list_commands(
    session: SessionDep,
    agent_id: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[CommandStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> CommandsPublic:
    """Newest first."""
    query = select(CommandRow)
    if agent_id is not None:
        query = query.where(CommandRow.agent_id == agent_id)
    if status is not None:
        query = query.where(CommandRow.status == status.value)
    rows = session.exec(query.order_by(col(CommandRow.created_at).desc()).limit(limit)).all()
    data = [CommandPublic.model_validate(r, from_attributes=True) for r in rows]
    return CommandsPublic(data=data, count=len(data))
