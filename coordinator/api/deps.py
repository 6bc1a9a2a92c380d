"""Dependencies of the API routes, as ``Annotated`` aliases so signatures read like sentences."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from coordinator.commands import CommandService
from coordinator.db import reader
from coordinator.runtime import Coordinator

_bearer = HTTPBearer(auto_error=False, description="the coordinator's API token (HALLMESH_API_TOKEN)")


def get_coordinator(request: Request) -> Coordinator:
    coordinator: Coordinator | None = getattr(request.app.state, "coordinator", None)
    if coordinator is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "coordinator is starting")
    return coordinator


CoordinatorDep = Annotated[Coordinator, Depends(get_coordinator)]


def get_session(request: Request, coordinator: CoordinatorDep) -> Iterator[Session]:
    # GET and HEAD only read: a snapshot that never holds SQLite's write lock (a clerk's page polling a case
    # must not stall ingest or uploads). Other methods write and take the lock at BEGIN.
    engine = reader(coordinator.engine) if request.method in ("GET", "HEAD") else coordinator.engine
    with Session(engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_commands(coordinator: CoordinatorDep) -> CommandService:
    if coordinator.commands is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "coordinator is starting")
    return coordinator.commands


CommandsDep = Annotated[CommandService, Depends(get_commands)]


def require_token(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """The one authentication check of the API: ``Authorization: Bearer <HALLMESH_API_TOKEN>``."""
    expected: str = request.app.state.settings.token
    if credentials is None or not secrets.compare_digest(credentials.credentials.encode(), expected.encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or wrong bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )


Authenticated = Depends(require_token)
