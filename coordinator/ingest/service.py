"""The ingest service: MQTT link → receiver (decode) → queue → writer (batches, commit, ack)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.engine import Engine

from coordinator.ingest.inbox import Inbox
from coordinator.ingest.link import MqttLink
from coordinator.ingest.receiver import Inbound, Receiver
from coordinator.ingest.stats import IngestStats
from coordinator.ingest.writer import Writer
from coordinator.settings import Settings
from coordinator.state import LiveState
from protocols.messages import Body
from protocols.topics import Channel

log = logging.getLogger(__name__)


class IngestService:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        live: LiveState,
        boot: int,
        observe_batch: Callable[[float], None] = lambda _s: None,
    ) -> None:
        self.stats = IngestStats()
        self.inbox: Inbox[Inbound] = Inbox(settings.ingest_queue_size, settings.ingest_batch_size)
        self.receiver = Receiver(self.inbox, self.stats)
        self.link = MqttLink(settings, boot, self.receiver)
        self.writer = Writer(settings, engine, self.inbox, live, self.stats, self.send, observe_batch)

    def start(self) -> None:
        self.writer.start()
        self.link.start()

    def stop(self) -> None:
        self.receiver.close()
        self.writer.stop()  # commits and acks what is queued while the link is still up
        self.link.stop()

    def send(self, kind: Channel, topic: str, body: Body, *, retain: bool = False) -> bool:
        return self.link.send(kind, topic, body, retain=retain)

    @property
    def connected(self) -> bool:
        return self.link.connected

    @property
    def queue_depth(self) -> int:
        return self.inbox.qsize()
