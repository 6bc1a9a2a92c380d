"""``create_app(settings)``: the coordinator's FastAPI application.

The lifespan runs the start-up steps in order — migrations, boot counter, live state from the registry,
ingest (writer, MQTT link), command sweeper — and stops them in reverse.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from coordinator import wall
from coordinator.api import (
    agents,
    app_support,
    blobs,
    certificates,
    commands,
    conferences,
    devices,
    docs,
    events,
    health,
    provision,
    sms,
    workflow_routes,
)
from coordinator.errors import CommandError, NotFoundError, ProvisioningRefused
from coordinator.runtime import Coordinator
from coordinator.settings import Settings

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        coordinator = Coordinator.create(settings)
        await anyio.to_thread.run_sync(coordinator.start)
        app.state.coordinator = coordinator
        await wall.start(app, coordinator)
        if settings.token_generated:
            log.warning("demo mode: generated API token %s", settings.token)
        try:
            yield
        finally:
            await wall.stop(app)
            app.state.coordinator = None
            await anyio.to_thread.run_sync(coordinator.stop)

    app = FastAPI(
        title="hallmesh coordinator",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.coordinator = None
    for module in (agents, blobs, devices, commands, conferences, events, health, docs):
        app.include_router(module.router)
    app.include_router(provision.admin)
    app.include_router(provision.public)
    app.include_router(certificates.router)  # certificates, seals, printer calibration (API token)
    app.include_router(certificates.public)  # certificate check by number or PDF (no sign-in)
    app.include_router(sms.router)
    workflow_routes.install(app)  # organisation, staff, sign-in, catalog (staff JWT; public catalog)
    wall.install(app)  # monitoring wall: API, viewer WebSocket, splice panels, pages at /wall/
    app.mount("/public", StaticFiles(packages=[("dashboard", "public")], html=True), name="public-catalog")
    app.mount("/verify", StaticFiles(packages=[("dashboard", "verify")], html=True), name="cert-verify")
    app.mount("/boards", StaticFiles(packages=[("dashboard", "boards")], html=True), name="stats-boards")
    app.include_router(app_support.router)  # staff web app: windows with their agents' live state
    app.mount("/app", StaticFiles(packages=[("dashboard", "app")], html=True), name="staff-app")

    @app.exception_handler(NotFoundError)
    async def not_found(_request: Request, err: NotFoundError) -> JSONResponse:
        return JSONResponse({"detail": str(err)}, status_code=status.HTTP_404_NOT_FOUND)

    @app.exception_handler(CommandError)
    async def bad_command(_request: Request, err: CommandError) -> JSONResponse:
        return JSONResponse({"detail": str(err)}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)

    @app.exception_handler(ProvisioningRefused)
    async def refused(_request: Request, err: ProvisioningRefused) -> JSONResponse:
        return JSONResponse({"detail": str(err)}, status_code=err.status_code)

    return app
