"""The certificate parts of the running coordinator: seals, the service (listener) and its worker."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from coordinator.blobs.store import BlobStore
from coordinator.cases.service import CaseService
from coordinator.certificates.seals import SealStore
from coordinator.certificates.service import CertificateService
from coordinator.certificates.worker import CertificateWorker
from coordinator.settings import Settings
from coordinator.state import LiveState
from workflow.cases import Case


class Certificates:
    def __init__(self, settings: Settings, engine: sa.Engine, blobs: BlobStore, cases: CaseService,
                 live: LiveState) -> None:  # fmt: skip
        self.seals = SealStore(settings.pki_dir, settings.data_dir)
        self.service = CertificateService(engine, blobs, self.seals)
        self.worker = CertificateWorker(engine, self.service, cases, live)

    def on_case_event(self, session: Session, case: Case, event_type: str, data: dict[str, Any]) -> None:
        self.service.on_case_event(session, case, event_type, data)

    def start(self) -> None:
        self.worker.start()

    def stop(self) -> None:
        self.worker.stop()
