"""The running coordinator: its parts in start-up order, stopped in reverse (used by the app's lifespan)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from coordinator import db
from coordinator.commands import CommandService
from coordinator.ingest.service import IngestService
from coordinator.metrics import Metrics
from coordinator.models import Agent, Device
from coordinator.settings import Settings
from coordinator.state import LiveState

log = logging.getLogger(__name__)


@dataclass
class Coordinator:
    settings: Settings
    engine: Engine
    live: LiveState = field(default_factory=LiveState)
    metrics: Metrics = field(default_factory=Metrics)
    boot: int = 0
    ingest: IngestService | None = None
    commands: CommandService | None = None

    @classmethod
    def create(cls, settings: Settings) -> Coordinator:
        return cls(settings, db.make_engine(settings.database_url))

    def start(self) -> None:
        db.migrate(self.engine)
        self.boot = db.next_boot(self.engine)
        self.load_state()
        self.ingest = IngestService(
            self.settings, self.engine, self.live, self.boot, self.metrics.batch_seconds.observe
        )
        self.metrics.attach(
            self.live, self.ingest.stats, lambda: self.ingest_queue_depth, lambda: self.mqtt_connected
        )
        link = self.ingest.link
        self.commands = CommandService(
            self.settings, self.engine, self.live, self.ingest.send, lambda: link.connects
        )
        self.ingest.start()
        self.commands.start()
        log.info("coordinator boot %d started (database %s)", self.boot, self.engine.url.get_backend_name())

    def load_state(self) -> None:
        with Session(self.engine) as session:
            self.live.load(session.exec(select(Agent)).all(), session.exec(select(Device)).all())

    def stop(self) -> None:
        if self.commands is not None:
            self.commands.stop()
        if self.ingest is not None:
            self.ingest.stop()
        self.engine.dispose()
        log.info("coordinator stopped")

    @property
    def mqtt_connected(self) -> bool:
        return self.ingest is not None and self.ingest.connected

    @property
    def ingest_queue_depth(self) -> int:
        return self.ingest.queue_depth if self.ingest is not None else 0
