"""Group commit of device events into the outbox.

A driver's ``emit`` lands here. Room is checked at once (``OutboxFull`` is raised to the driver, and
counted), the event is queued, and all events queued during one step of the event loop are committed in
one transaction right after it — so a burst of 10,000 events costs tens of fsyncs, not 10,000. Command
results call :meth:`flush` first, so they follow the events their command emitted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from pydantic import JsonValue, ValidationError

from edge_agent.errors import DeviceError
from edge_agent.outbox import Outbox, OutboxBody
from protocols.messages import EventBody
from protocols.topics import Channel


class Recorder:
    def __init__(
        self, outbox: Outbox, loop: asyncio.AbstractEventLoop, on_commit: Callable[[], None]
    ) -> None:
        self._outbox = outbox
        self._loop = loop
        self._on_commit = on_commit
        self._queue: list[tuple[Channel, OutboxBody]] = []
        self._scheduled = False

    def emitter(self, device_id: str) -> Callable[[str, dict[str, JsonValue]], None]:
        """The ``emit`` callback given to the driver of ``device_id``."""

        def emit(event_type: str, data: dict[str, JsonValue]) -> None:
            self.record(device_id, event_type, data)

        return emit

    def record(self, device_id: str, event_type: str, data: dict[str, JsonValue]) -> None:
        """Queue an event for the next group commit; raise ``OutboxFull`` if there is no room for it."""
        if self._outbox.depth + len(self._queue) >= self._outbox.max_entries:
            self._outbox.refuse(1)
        try:
            body = EventBody(device=device_id, type=event_type, data=data)
        except ValidationError as err:
            raise DeviceError(f"invalid event from {device_id}: {err.errors()[0]['msg']}") from err
        self._queue.append((Channel.EVENT, body))
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self.flush)

    def flush(self) -> None:
        """Commit what is queued (one transaction) and tell the sender."""
        self._scheduled = False
        batch, self._queue = self._queue, []
        if batch:
            self._outbox.append_many(batch)
            self._on_commit()
