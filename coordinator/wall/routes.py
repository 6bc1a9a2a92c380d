"""HTTP and WebSocket routes of the wall.

``/api/v1/wall/walls|groups|tours`` — CRUD (service token, as the registry routes);
``/api/v1/wall/walls/{id}/layout`` — cells and camera schedule for a browser wall;
``/api/v1/wall/cameras`` — cameras known to the coordinator with status and PTZ ability;
``/api/v1/wall/ws`` — a browser wall's tiles (see :mod:`coordinator.wall.viewers`);
``/api/v1/wall/{wall}/panel/{r}/{c}.mjpg`` — a splice-screen panel; ``…/{r}/{c}/at?x=&y=`` — click → camera.

A browser cannot put a header on a WebSocket or an ``<img>`` request: those two also take ``?token=``.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, WebSocket, status
from fastapi.responses import Response, StreamingResponse
from sqlmodel import col, select

from coordinator.api.deps import Authenticated, SessionDep
from coordinator.errors import NotFoundError
from coordinator.models.wall import CameraGroup as GroupRow
from coordinator.models.wall import (
    CameraGroupCreate,
    CameraGroupPublic,
    CameraGroupsPublic,
    TourCreate,
    TourPublic,
    ToursPublic,
    Wall,
    WallCreate,
    WallPublic,
    WallsPublic,
)
from coordinator.models.wall import Tour as TourRow
from coordinator.wall import store
from coordinator.wall.cache import key_text
from coordinator.wall.panels import BOUNDARY
from coordinator.wall.service import WallService

api = APIRouter(prefix="/api/v1/wall", tags=["wall"], dependencies=[Authenticated])
open_api = APIRouter(prefix="/api/v1/wall", tags=["wall"])


def get_wall_service(request: Request) -> WallService:
    found: WallService | None = getattr(request.app.state, "wall", None)
    if found is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "coordinator is starting")
    return found


WallDep = Annotated[WallService, Depends(get_wall_service)]


def token_ok(expected: str, authorization: str | None, token: str | None) -> bool:
    given = token
    if authorization is not None and authorization.lower().startswith("bearer "):
        given = authorization[7:]
    return given is not None and secrets.compare_digest(given.encode(), expected.encode())


def require_token_or_query(request: Request, token: Annotated[str | None, Query()] = None) -> None:
    if not token_ok(request.app.state.settings.token, request.headers.get("authorization"), token):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing or wrong token")


# -- walls ------------------------------------------------------------------------------------------------------


@api.get("/walls")
def list_walls(session: SessionDep) -> WallsPublic:
    rows = session.exec(select(Wall).order_by(col(Wall.id))).all()
    return WallsPublic(data=[store.wall_public(r) for r in rows], count=len(rows))


@api.post("/walls", status_code=status.HTTP_201_CREATED)
def create_wall(req: WallCreate, session: SessionDep) -> WallPublic:
    return store.wall_public(store.save_wall(session, req))


@api.get("/walls/{wall_id}")
def get_wall(wall_id: int, session: SessionDep) -> WallPublic:
    return store.wall_public(store.get_wall(session, wall_id))


@api.put("/walls/{wall_id}")
def update_wall(wall_id: int, req: WallCreate, session: SessionDep) -> WallPublic:
    return store.wall_public(store.save_wall(session, req, wall_id))


@api.delete("/walls/{wall_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_wall(wall_id: int, session: SessionDep) -> None:
    store.delete_wall(session, wall_id)


@api.get("/walls/{wall_id}/layout")
def wall_layout(wall_id: int, session: SessionDep) -> dict[str, Any]:
    """Cells as fractions of the wall, and the camera groups it shows (rotated every ``dwell_s`` if a tour)."""
    wall = store.get_wall(session, wall_id)
    lay = store.layout(wall)
    sched = store.schedule(session, wall)
    cells = [
        {"x": c.x0 / lay.width, "y": c.y0 / lay.height, "w": c.width / lay.width, "h": c.height / lay.height}
        for c in lay.cells
    ]
    groups = [[{"id": c.key, "label": c.label} for c in g[: len(cells)]] for g in sched.groups]
    return {"wall": store.wall_public(wall), "cells": cells, "dwell_s": sched.dwell_s, "groups": groups}


# -- groups and tours -------------------------------------------------------------------------------------------


@api.get("/groups")
def list_groups(session: SessionDep) -> CameraGroupsPublic:
    rows = session.exec(select(GroupRow).order_by(col(GroupRow.id))).all()
    return CameraGroupsPublic(data=[store.group_public(r) for r in rows], count=len(rows))


@api.post("/groups", status_code=status.HTTP_201_CREATED)
def create_group(req: CameraGroupCreate, session: SessionDep) -> CameraGroupPublic:
    return store.group_public(store.save_group(session, req))


@api.get("/groups/{group_id}")
def get_group(group_id: int, session: SessionDep) -> CameraGroupPublic:
    return store.group_public(store.get_group(session, group_id))


@api.put("/groups/{group_id}")
def update_group(group_id: int, req: CameraGroupCreate, session: SessionDep) -> CameraGroupPublic:
    return store.group_public(store.save_group(session, req, group_id))


@api.delete("/groups/{group_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_group(group_id: int, session: SessionDep) -> None:
    store.delete_group(session, group_id)


@api.get("/tours")
def list_tours(session: SessionDep) -> ToursPublic:
    rows = session.exec(select(TourRow).order_by(col(TourRow.id))).all()
    return ToursPublic(data=[store.tour_public(r) for r in rows], count=len(rows))


@api.post("/tours", status_code=status.HTTP_201_CREATED)
def create_tour(req: TourCreate, session: SessionDep) -> TourPublic:
    return store.tour_public(store.save_tour(session, req))


@api.get("/tours/{tour_id}")
def get_tour(tour_id: int, session: SessionDep) -> TourPublic:
    return store.tour_public(store.get_tour(session, tour_id))


@api.put("/tours/{tour_id}")
def update_tour(tour_id: int, req: TourCreate, session: SessionDep) -> TourPublic:
    return store.tour_public(store.save_tour(session, req, tour_id))


@api.delete("/tours/{tour_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_tour(tour_id: int, session: SessionDep) -> None:
    store.delete_tour(session, tour_id)


# -- live -------------------------------------------------------------------------------------------------------


@api.get("/cameras")
def list_cameras(wall: WallDep) -> dict[str, Any]:
    data = wall.cameras()
    return {"data": data, "count": len(data)}


@api.get("/{wall_id}/panel/{r}/{c}/at")
async def panel_at(
    wall_id: int,
    r: int,
    c: int,
    x: Annotated[int, Query(ge=0)],
    y: Annotated[int, Query(ge=0)],
    wall: WallDep,
) -> dict[str, Any]:
    """Which cell and camera is under pixel (x, y) of panel (r, c)."""
    view = await _panel_view(wall, wall_id, r, c)
    cell = view.layout.cell_at(r, c, x, y)
    if cell is None:
        raise NotFoundError(f"pixel {x},{y} is outside panel {r},{c}")
    key = view.cameras[cell] if cell < len(view.cameras) else None
    label = view.labels[cell] if cell < len(view.labels) else ""
    return {"cell": cell, "camera": key_text(key) if key else None, "label": label or (key[1] if key else "")}


@open_api.get("/{wall_id}/panel/{r}/{c}.mjpg", dependencies=[Depends(require_token_or_query)])
async def panel_stream(wall_id: int, r: int, c: int, wall: WallDep) -> Response:
    """The panel as ``multipart/x-mixed-replace`` JPEG frames, composed while this stream is open."""
    await _panel_view(wall, wall_id, r, c)
    return StreamingResponse(
        wall.panels.stream((wall_id, r, c)),
        media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
        headers={"Cache-Control": "no-store"},
    )


async def _panel_view(wall: WallService, wall_id: int, r: int, c: int) -> Any:
    try:
        return await wall.panels.check((wall_id, r, c))
    except IndexError as err:
        raise NotFoundError(str(err)) from err


@open_api.websocket("/ws")
async def viewer_socket(ws: WebSocket, token: str | None = None) -> None:
    """One browser wall: subscribe to cameras, receive their tiles (latest wins) and status changes."""
    settings = ws.app.state.settings
    wall: WallService | None = getattr(ws.app.state, "wall", None)
    if wall is None or not token_ok(settings.token, ws.headers.get("authorization"), token):
        await ws.close(code=1008)
        return
    await ws.accept()
    await wall.hub.serve(ws)
