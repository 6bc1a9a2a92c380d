"""The monitoring wall (DESIGN.md §8): tile cache, viewer demand, browser walls, splice-screen panels.

    cache      -- latest tile per camera from ingest; online/offline
    demand     -- who watches what at which rate → agents' ``down/config`` ``tile_rates``
    viewers    -- browser walls: one WebSocket each, latest tile wins
    compositor -- splice-screen geometry and panel drawing (decode once, redraw changed cells only)
    panels     -- panels as MJPEG streams, composed only while watched
    store      -- walls, camera groups, tours in the database; what a wall shows now
    routes     -- the HTTP/WebSocket API; the pages are ``dashboard/wall`` served at ``/wall/``
    metrics    -- the wall's Prometheus collector
    service    -- the parts wired to a running coordinator

``install(app)`` adds the routes and pages; ``await start(app, coordinator)`` / ``await stop(app)`` run the
wall's service in the app's lifespan.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from coordinator.runtime import Coordinator
from coordinator.wall import routes
from coordinator.wall.service import WallService


def install(app: FastAPI) -> None:
    """Routes of the wall and its pages at ``/wall/``."""

    app.state.wall = None
    app.include_router(routes.api)
    app.include_router(routes.open_api)
    app.mount("/wall", StaticFiles(packages=[("dashboard", "wall")], html=True), name="wall-pages")


async def start(app: FastAPI, coordinator: Coordinator) -> None:
    """Start the wall service of ``coordinator`` (after the coordinator started)."""

    service = WallService(coordinator)
    await service.start()
    app.state.wall = service


async def stop(app: FastAPI) -> None:
    """Stop the wall service (before the coordinator stops)."""
    service = getattr(app.state, "wall", None)
    app.state.wall = None
    if service is not None:
        await service.stop()
