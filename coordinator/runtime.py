"""The running coordinator: its parts in start-up order, stopped in reverse (used by the app's lifespan)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from coordinator import db
from coordinator.blobs.auth import AgentSignature
from coordinator.blobs.metrics import BlobCollector
from coordinator.blobs.store import BlobStore
from coordinator.cases.hooks import CaseHooks
from coordinator.cases.service import CaseService
from coordinator.certificates.runner import Certificates
from coordinator.commands import CommandService
from coordinator.conferences import ConferenceService
from coordinator.ingest.service import IngestService
from coordinator.metrics import Metrics
from coordinator.models import Agent, Device
from coordinator.provision.metrics import CertificateCollector
from coordinator.provision.service import ProvisioningService
from coordinator.settings import Settings
from coordinator.sms.service import SmsService
from coordinator.state import LiveState
from coordinator.stats import aggregate as stats_aggregate
from workflow.case_engine import Policy

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
    conferences: ConferenceService | None = None
    provisioning: ProvisioningService | None = None
    blobs: BlobStore = field(init=False)
    agent_auth: AgentSignature = field(init=False)
    cases: CaseService | None = None
    case_hooks: CaseHooks = field(default_factory=CaseHooks)
    """listeners of case events (SMS, certificates): see coordinator/cases/hooks.py"""
    certificates: Certificates | None = None
    sms: SmsService | None = None

    @classmethod
    def create(cls, settings: Settings) -> Coordinator:
        return cls(settings, db.make_engine(settings.database_url))

    def start(self) -> None:
        db.migrate(self.engine)
        self.boot = db.next_boot(self.engine)
        self.provisioning = ProvisioningService(self.settings, self.engine, self.forget_agent)
        self.metrics.registry.register(CertificateCollector(self.provisioning.certificate_expiries))
        self.load_state()
        settings = self.settings
        self.blobs = BlobStore(settings.data_dir / "blobs", self.engine, settings.blob_max_bytes)
        crl = settings.pki_dir / "crl.pem" if settings.pki_dir is not None else None
        self.agent_auth = AgentSignature(settings.mqtt_ca, crl, self.engine)
        self.metrics.registry.register(BlobCollector(self.blobs.outcomes))
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
        self.conferences = ConferenceService(self.engine, self.commands)
        self.cases = CaseService(self.engine, self.live, self.commands, self.blobs, self.case_hooks)
        self.metrics.registry.register(self.conferences.collector())
        self.certificates = Certificates(settings, self.engine, self.blobs, self.cases, self.live)
        self.sms = SmsService(settings, self.engine)
        self.case_hooks.register(self.certificates.on_case_event)
        self.case_hooks.register(self.sms.on_case_event)
        self.case_hooks.register(stats_aggregate.on_case_event)  # boards' daily counts, same transaction
        self.ingest.start()
        self.commands.start()
        self.conferences.start()
        self.certificates.start()
        self.sms.start()
        log.info("coordinator boot %d started (database %s)", self.boot, self.engine.url.get_backend_name())

    def load_state(self) -> None:
        gone = self.provisioning.decommissioned() if self.provisioning is not None else set()
        with Session(self.engine) as session:
            agents = [a for a in session.exec(select(Agent)).all() if a.id not in gone]
            self.live.load(agents, session.exec(select(Device)).all())

    def forget_agent(self, agent_id: str, timeout: float = 3.0) -> None:
        """Drop a decommissioned agent from the live state (metrics, presence) once its Will was processed;
        its rows stay in the database as history."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            live = self.live.get(agent_id)
            if live is None or not live.online:
                break
            time.sleep(0.02)
        self.live.remove(agent_id)

    def stop(self) -> None:
        for part in (self.sms, self.certificates):
            if part is not None:
                part.stop()
        if self.conferences is not None:
            self.conferences.stop()
        if self.commands is not None:
            self.commands.stop()
        if self.ingest is not None:
            self.ingest.stop()
        self.engine.dispose()
        log.info("coordinator stopped")

    @property
    def case_policy(self) -> Policy:
        """Deadline rules of the case workflow, with the yellow threshold from the settings."""
        return Policy(yellow_days=self.settings.case_yellow_days)

    @property
    def mqtt_connected(self) -> bool:
        return self.ingest is not None and self.ingest.connected

    @property
    def ingest_queue_depth(self) -> int:
        return self.ingest.queue_depth if self.ingest is not None else 0
