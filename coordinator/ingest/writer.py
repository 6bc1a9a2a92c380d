"""The writer thread: takes decoded messages in arrival order, one transaction per batch, acks after commit.

A batch closes at ``ingest_batch_size`` messages or ``ingest_max_delay_s`` after its first message. If the
transaction fails it is retried (fresh :class:`Batch`, same messages) a few times; if it still fails, the batch
is dropped unacknowledged — the agents resend events and results, births come again on reconnect or rebirth.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Final

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from coordinator.ingest.batch import Batch
from coordinator.ingest.inbox import Inbox
from coordinator.ingest.receiver import Inbound
from coordinator.ingest.stats import IngestStats
from coordinator.settings import Settings
from coordinator.state import LiveState
from protocols import topics
from protocols.ids import uuid7
from protocols.messages import AGENT_TARGET, AckBody, Body, CommandBody
from protocols.topics import Channel

log = logging.getLogger(__name__)

Send = Callable[[Channel, str, Body], bool]

ATTEMPTS: Final = 3
MAX_ACK_IDS: Final = 10_000
REBIRTH_TTL_S: Final = 30.0
DRAIN_ON_STOP_S: Final = 2.0


class RateLimiter:
    """At most one action per key every ``interval`` seconds."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last: dict[str, float] = {}

    def ready(self, key: str, now: float) -> bool:
        return now - self._last.get(key, -self.interval) >= self.interval

    def mark(self, key: str, now: float) -> None:
        self._last[key] = now


class Writer:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        inbox: Inbox[Inbound],
        live: LiveState,
        stats: IngestStats,
        send: Send,
        observe: Callable[[float], None] = lambda _s: None,
    ) -> None:
        self._settings = settings
        self._engine = engine
        self._inbox = inbox
        self._live = live
        self._stats = stats
        self._send = send
        self._observe = observe
        self._rebirth_limit = RateLimiter(settings.rebirth_interval_s)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="ingest-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Commit and acknowledge what is already queued (for up to 2 s), then end the thread."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(DRAIN_ON_STOP_S + 10)
        self._thread = None

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- loop --------------------------------------------------------------------------------------------

    def _run(self) -> None:
        drain_until: float | None = None
        while True:
            stopping = self._stop.is_set()
            if stopping and drain_until is None:
                drain_until = time.monotonic() + DRAIN_ON_STOP_S
            items = self._collect(block=not stopping)
            if items:
                try:
                    self._process(items)
                except Exception:  # the ingest thread must survive a bug in one batch; agents will resend
                    log.exception(
                        "ingest batch of %d messages failed unexpectedly; dropped unacknowledged", len(items)
                    )
                    self._stats.batch_failures += 1
            if stopping and (not items or (drain_until is not None and time.monotonic() > drain_until)):
                return

    def _collect(self, block: bool) -> list[Inbound]:
        return self._inbox.get_batch(0.1 if block else 0.0, self._settings.ingest_max_delay_s)

    def _process(self, items: list[Inbound]) -> None:
        started = time.monotonic()
        for attempt in range(1, ATTEMPTS + 1):
            batch = Batch(self._live)
            for m in items:
                batch.add(m)
            if not batch.has_writes:
                break
            try:
                with self._engine.begin() as conn:
                    batch.flush(conn)
                break
            except sa.exc.SQLAlchemyError as err:
                log.warning("ingest transaction failed (attempt %d/%d): %s", attempt, ATTEMPTS, err)
                if attempt == ATTEMPTS or self._stop.wait(0.2 * attempt):
                    self._stats.batch_failures += 1
                    log.error(
                        "dropping a batch of %d messages unacknowledged; agents will resend", len(items)
                    )
                    return
        self._live.publish(batch.work.values())
        st = self._stats
        st.duplicates += batch.duplicates
        st.out_of_order += batch.out_of_order
        st.stale_presence += batch.stale_presence
        st.events_inserted += batch.events_inserted
        st.results_inserted += batch.results_inserted
        for agent_id, ids in batch.acks.items():
            for i in range(0, len(ids), MAX_ACK_IDS):
                self._send(Channel.ACK, topics.ack(agent_id), AckBody(ids=ids[i : i + MAX_ACK_IDS]))
        now = time.monotonic()
        for agent_id in sorted(batch.rebirths):
            if self._rebirth_limit.ready(agent_id, now) and self.request_rebirth(agent_id):
                self._rebirth_limit.mark(agent_id, now)
        self._observe(time.monotonic() - started)

    def request_rebirth(self, agent_id: str) -> bool:
        body = CommandBody(
            cmd_id=uuid7(),
            device=AGENT_TARGET,
            action="rebirth",
            args={},
            expires_at=time.time() + REBIRTH_TTL_S,
        )
        sent = self._send(Channel.CMD, topics.cmd(agent_id), body)
        if sent:
            self._stats.rebirth_requests += 1
            log.info("asked agent %s for a new birth", agent_id)
        return sent
