"""``serve(settings)``: run the coordinator under uvicorn until SIGINT/SIGTERM (then shut down cleanly:
commit and acknowledge what is queued, publish the retained offline state, disconnect)."""

from __future__ import annotations

import sys

import uvicorn

from coordinator.app import create_app
from coordinator.settings import Settings


def serve(settings: Settings) -> None:
    if settings.token_generated:
        print(f"hallmesh coordinator (demo): API token {settings.token}", file=sys.stderr, flush=True)
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="info",
        lifespan="on",
        access_log=False,
    )
    server = uvicorn.Server(config)
    server.run()
    if server.started is False and not getattr(server, "should_exit", False):
        raise SystemExit(1)
