"""Decode each inbound message onto the writer's queue; count and log (rate-limited) what is rejected.

Runs on the MQTT network thread and must never raise: a bad payload is dropped, valid traffic flows on.
When the queue is full, ``put`` blocks — back-pressure onto the broker, which queues for our session.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from coordinator.ingest.inbox import Inbox
from coordinator.ingest.stats import IngestStats
from protocols import envelope, topics
from protocols.errors import DecodeError, TopicError
from protocols.messages import Body
from protocols.topics import Channel, Topic

log = logging.getLogger(__name__)

LOG_EVERY_S = 10.0


@dataclass(frozen=True, slots=True)
class Inbound:
    topic: Topic
    env: envelope.Envelope[Body]
    received_at: float


class Receiver:
    def __init__(self, out: Inbox[Inbound], stats: IngestStats) -> None:
        self._out = out
        self._stats = stats
        self._closed = False
        self._last_log: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}
        self.on_tile: Callable[[Topic, bytes], None] | None = None
        """Where binary wall tiles go (the wall's tile cache; must not raise); None: counted and dropped."""

    def __call__(self, topic: str, payload: bytes) -> None:
        if "/tile/" in topic and (tile := self._tile_topic(topic)) is not None:
            self._stats.messages[Channel.TILE.value] += 1  # binary wall tiles: not this pipeline's business
            if self.on_tile is not None:
                self.on_tile(tile, payload)
            return
        try:
            parsed, env = envelope.decode(topic, payload)
        except DecodeError as err:
            self._reject(topic, err)
            return
        self._stats.messages[parsed.channel.value] += 1
        item = Inbound(parsed, env, time.time())
        while not self._closed:
            if self._out.put(item, timeout=0.5):
                return

    def close(self) -> None:
        """Stop queueing (messages still arriving are dropped unacknowledged; agents resend them)."""
        self._closed = True

    @staticmethod
    def _tile_topic(topic: str) -> Topic | None:
        try:
            parsed = topics.parse(topic)
        except TopicError:
            return None
        return parsed if parsed.channel is Channel.TILE else None

    def _reject(self, topic: str, err: DecodeError) -> None:
        self._stats.rejected[err.reason] += 1
        now = time.monotonic()
        if now - self._last_log.get(err.reason, -LOG_EVERY_S) >= LOG_EVERY_S:
            suppressed = self._suppressed.pop(err.reason, 0)
            self._last_log[err.reason] = now
            log.warning(
                "rejected message on %.200s: %.300s (%d more like it suppressed)", topic, err, suppressed
            )
        else:
            self._suppressed[err.reason] = self._suppressed.get(err.reason, 0) + 1
            log.debug("rejected message on %.200s: %.300s", topic, err)
