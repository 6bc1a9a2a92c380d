"""An asyncio server run in a thread of its own, for the simulators used from synchronous code (tests, demo)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable


class LoopThread:
    """``start(start_async, stop_async)`` runs ``start_async`` on a new loop in a daemon thread and returns once
    it has finished (re-raising its error); ``stop()`` stops the loop, which then runs ``stop_async``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(
        self, start_async: Callable[[], Awaitable[object]], stop_async: Callable[[], Awaitable[object]],
        timeout: float,
    ) -> None:  # fmt: skip
        ready = threading.Event()
        errors: list[BaseException] = []

        def main() -> None:
            loop = asyncio.new_event_loop()
            self.loop = loop
            try:
                loop.run_until_complete(start_async())
            except BaseException as err:  # handed to start()'s caller
                errors.append(err)
                loop.run_until_complete(stop_async())
                loop.close()
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(stop_async())
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=main, name=self.name, daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise TimeoutError(f"{self.name} did not start within {timeout:g} s")
        if errors:
            raise errors[0]

    def stop(self, timeout: float = 10.0) -> None:
        loop, thread = self.loop, self._thread
        if loop is None or thread is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is already closed
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        self.loop = self._thread = None
