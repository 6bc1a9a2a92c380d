"""Go-back-N delivery of the outbox (docs/protocol.md, "Outbox: nothing lost, nothing twice").

Entries are published in seq order with at most ``window`` unacknowledged. ``down/ack`` names message ids;
an acknowledged entry frees its window slot at once, and its row is deleted in a batch a moment later (one
transaction per batch, not per id). The sender goes back to the lowest unacknowledged entry

- when a session starts (after every reconnect),
- when no acknowledgement has arrived for ``ack_timeout_s`` while entries are outstanding,
- on request (the ``rebirth`` command).

Runs on the agent's event loop; not thread-safe.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Final

from edge_agent.outbox import Outbox

log = logging.getLogger(__name__)

ACK_FLUSH_DELAY_S: Final = 0.02
ACK_FLUSH_MAX: Final = 2000

Publish = Callable[[str, bytes], bool]


class OutboxSender:
    def __init__(self, outbox: Outbox, publish: Publish, *, window: int, ack_timeout_s: float) -> None:
        self._outbox = outbox
        self._publish = publish
        self.window = window
        self.ack_timeout_s = ack_timeout_s
        self._active = False
        self._next_seq = 0
        self._inflight: dict[str, int] = {}
        self._last_progress = time.monotonic()
        self._acked: list[str] = []
        self._flush_handle: asyncio.TimerHandle | None = None
        self.sent = 0
        self.resends = 0

    @property
    def inflight(self) -> int:
        return len(self._inflight)

    def start_session(self) -> None:
        """A session is up: send from the lowest unacknowledged entry."""
        self._active = True
        self.go_back("session start")

    def stop_session(self) -> None:
        self._active = False
        self._inflight.clear()

    def go_back(self, why: str) -> None:
        """Forget what is in flight and resend from the lowest unacknowledged entry."""
        self.flush_acks()
        if self._inflight:
            self.resends += 1
            log.info("outbox: resending from seq %d (%s, %d in flight)", self._outbox.low_seq(), why,
                     len(self._inflight))  # fmt: skip
        self._inflight.clear()
        self._next_seq = self._outbox.low_seq()
        self._last_progress = time.monotonic()
        self.fill()

    def fill(self) -> None:
        """Send more entries while the window has room (call after appending to the outbox)."""
        if not self._active:
            return
        room = self.window - len(self._inflight)
        if room <= 0:
            return
        if not self._inflight:
            self._last_progress = time.monotonic()
        for entry in self._outbox.pending_from(self._next_seq, room):
            if not self._publish(entry.topic, entry.payload):
                return  # the connection is gone; the next session goes back anyway
            self._inflight[entry.msg_id] = entry.seq
            self._next_seq = entry.seq + 1
            self.sent += 1

    def acked(self, ids: Iterable[uuid.UUID]) -> None:
        """The coordinator committed these ids: free their slots now, delete their rows in a batch soon."""
        progress = False
        for msg_id in ids:
            key = str(msg_id)
            if self._inflight.pop(key, None) is not None:
                progress = True
            self._acked.append(key)
        if progress:
            self._last_progress = time.monotonic()
        if len(self._acked) >= ACK_FLUSH_MAX:
            self.flush_acks()
        elif self._acked and self._flush_handle is None:
            self._flush_handle = asyncio.get_running_loop().call_later(ACK_FLUSH_DELAY_S, self.flush_acks)
        self.fill()

    def flush_acks(self) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        batch, self._acked = self._acked, []
        if batch:
            self._outbox.ack(batch)

    def check_timeout(self) -> None:
        """Go back if entries have been outstanding without any acknowledgement for ``ack_timeout_s``."""
        if self._active and self._inflight and time.monotonic() - self._last_progress > self.ack_timeout_s:
            self.go_back(f"no acknowledgement for {self.ack_timeout_s:g} s")
