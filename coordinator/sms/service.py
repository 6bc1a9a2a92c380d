"""The SMS notices of the running coordinator: the outbox listener and the sender with its gateway."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from coordinator.settings import Settings
from coordinator.sms.gateway import Gateway, HttpGateway, SinkGateway
from coordinator.sms.outbox import SmsOutbox
from coordinator.sms.sender import Backoff, SmsSender
from workflow.cases import Case


def make_gateway(settings: Settings) -> Gateway:
    """The HTTP gateway when ``HALLMESH_SMS_GATEWAY_URL`` is set, else the sink ``<data_dir>/sms/sink.jsonl``."""
    if settings.sms_gateway_url:
        token = settings.sms_gateway_token.get_secret_value() if settings.sms_gateway_token else None
        return HttpGateway(settings.sms_gateway_url, token)
    return SinkGateway(settings.data_dir / "sms" / "sink.jsonl")


class SmsService:
    def __init__(self, settings: Settings, engine: sa.Engine, gateway: Gateway | None = None,
                 now: Callable[[], float] = time.time) -> None:  # fmt: skip
        backoff = Backoff(settings.sms_retry_base_s, settings.sms_retry_max_s, settings.sms_max_attempts)
        self.outbox = SmsOutbox(now)
        self.sender = SmsSender(engine, gateway or make_gateway(settings), backoff, now)
        self.outbox.wake = self.sender.wake

    def on_case_event(self, session: Session, case: Case, event_type: str, data: dict[str, Any]) -> None:
        self.outbox.on_case_event(session, case, event_type, data)

    def start(self) -> None:
        self.sender.start()

    def stop(self) -> None:
        self.sender.stop()
