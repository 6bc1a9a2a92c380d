"""``serve(settings)``: run the coordinator under uvicorn until SIGINT/SIGTERM, then shut down cleanly
(commit and acknowledge what is queued, publish the retained offline state, disconnect) and return."""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType

import uvicorn

from coordinator.app import create_app
from coordinator.settings import Settings

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


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
        ws_per_message_deflate=False,  # wall tiles are JPEG: deflating them costs CPU and saves nothing
        timeout_graceful_shutdown=5,  # splice-panel MJPEG streams never end by themselves
    )
    server = uvicorn.Server(config)
    if threading.current_thread() is not threading.main_thread():
        server.run()
        return
    # uvicorn handles the signal (graceful shutdown), then restores the previous handlers and raises the
    # signal again; these handlers take it, so serve() returns normally and the process exits 0.
    received: list[int] = []

    def note(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)

    previous = {s: signal.signal(s, note) for s in STOP_SIGNALS}
    try:
        server.run()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if not server.started:
        raise SystemExit(1)
