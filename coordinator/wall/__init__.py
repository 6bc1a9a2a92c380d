"""The monitoring wall (DESIGN.md §8): tile cache, viewer demand, browser walls, splice-screen panels.

``install(app)`` adds the routes and pages; ``await start(app, coordinator)`` / ``await stop(app)`` run the
wall's service in the app's lifespan.
"""

from __future__ import annotations

from fastapi import FastAPI

from coordinator.runtime import Coordinator


def install(app: FastAPI) -> None:
    """Routes and pages of the wall (filled in by the wall's routers)."""


async def start(app: FastAPI, coordinator: Coordinator) -> None:
    """Start the wall service of ``coordinator`` (after the coordinator started)."""


async def stop(app: FastAPI) -> None:
    """Stop the wall service (before the coordinator stops)."""
