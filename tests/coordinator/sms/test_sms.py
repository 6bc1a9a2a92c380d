"""SMS notices: queued with the case event, sent through a real HTTP gateway that is down for ten minutes of
case activity (a fake clock lives through them at once), every notice delivered once after it returns."""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from coordinator import db
from coordinator.cases.hooks import CaseHooks
from coordinator.models.sms import SmsMessage
from coordinator.settings import Settings
from coordinator.sms.gateway import HttpGateway, SinkGateway
from coordinator.sms.outbox import SmsOutbox
from coordinator.sms.sender import Backoff, SmsSender
from coordinator.sms.service import SmsService
from coordinator.sms.templates import mask_phone
from tests.coordinator.certificates.org import Org, fire, make_case, make_org
from tests.support import free_port, wait_until
from workflow.cases import Case

TOKEN = "sms-gateway-token-123"


class Gateway:
    """A local SMS platform: answers 503 while ``failing``, else 200; counts what it delivered by id."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.failing = False
        self.delivered: Counter[str] = Counter()
        self.refused = 0
        self.bodies: list[dict[str, Any]] = []
        gw = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    self.send_response(401)
                elif gw.failing:
                    gw.refused += 1
                    self.send_response(503)
                else:
                    gw.delivered[body["id"]] += 1
                    gw.bodies.append(body)
                    self.send_response(200)
                payload = json.dumps({"ref": f"gw-{body['id'][:8]}"}).encode()
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    e = db.make_engine(f"sqlite:///{tmp_path / 'c.db'}")
    db.migrate(e)
    yield e
    e.dispose()


@pytest.fixture
def org(engine: sa.Engine) -> Org:
    return make_org(engine)


def test_gateway_down_for_ten_minutes_every_notice_delivered_once(
    engine: sa.Engine, org: Org, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    clock = [1_800_000_000.0]
    start = clock[0]
    port = free_port()
    outbox = SmsOutbox(now=lambda: clock[0])
    hooks = CaseHooks()
    hooks.register(outbox.on_case_event)
    http = HttpGateway(f"http://127.0.0.1:{port}/sms", TOKEN, timeout_s=5)
    sender = SmsSender(engine, http, Backoff(base_s=5, max_s=60, max_attempts=100), now=lambda: clock[0])
    cases = [make_case(engine, org, applicant=f"申请人{i}") for i in range(12)]
    phones = {c: f"1380000{c:04d}" for c in cases}
    script = {  # fake seconds into the outage → (case, event, data)
        float(t): (cases[i % len(cases)], event, data)
        for t, (i, event, data) in enumerate(
            [(i, "accepted", {}) for i in range(12)]
            + [
                (i, "supplement_requested", {"missing": ["营业场所证明", "身份证复印件"]})
                for i in range(0, 12, 3)
            ]
            + [(i, "concluded", {"outcome": "approved"}) for i in range(0, 12, 2)]
            + [(i, "result_ready", {"place": "兴庆区政务服务中心 9 号窗口"}) for i in range(0, 12, 2)]
        )
    }
    step = 600 / len(script)
    gateway: Gateway | None = None
    try:
        # Ten minutes of case activity: the first five the gateway refuses connections (no server), the next
        # five it answers 503. The sender tries every 5 s of fake time; nothing is delivered.
        events = sorted(script.items())
        while clock[0] - start < 600:
            elapsed = clock[0] - start
            while events and events[0][0] * step <= elapsed:
                _t, (case_id, event, data) = events.pop(0)
                fire(engine, hooks, case_id, event, data, phone=phones[case_id])
            if gateway is None and elapsed >= 300:
                gateway = Gateway(port)
                gateway.failing = True
            sender.send_due()
            clock[0] += 5
        assert not events
        assert gateway is not None
        assert gateway.refused > 0
        assert not gateway.delivered
        with Session(engine) as s:
            rows = list(s.exec(select(SmsMessage)))
        total = len(script)
        assert len(rows) == total
        assert all(r.status == "queued" for r in rows)
        assert max(r.attempts for r in rows) > 5  # retried all along, with backoff (not every 5 s)
        assert sum(r.attempts for r in rows) < total * 600 / 5 / 3

        gateway.failing = False  # it returns
        while clock[0] - start < 600 + 120:
            sender.send_due()
            clock[0] += 5
        with Session(engine) as s:
            rows = list(s.exec(select(SmsMessage)))
        assert {r.status for r in rows} == {"sent"}
        assert len(gateway.delivered) == total  # every notice …
        assert set(gateway.delivered.values()) == {1}  # … once
        assert {r.msg_id for r in rows} == set(gateway.delivered)
        assert all(r.gateway_ref.startswith("gw-") and r.sent_at is not None for r in rows)
        # within one longest backoff of its return
        assert max(r.sent_at or 0 for r in rows) - start <= 600 + 60 + 10
        # Nothing more goes out however long it runs.
        for _ in range(20):
            sender.send_due()
            clock[0] += 60
        assert set(gateway.delivered.values()) == {1}
    finally:
        sender.stop()
        if gateway is not None:
            gateway.close()
    texts = [b["text"] for b in gateway.bodies]
    assert sum("已受理" in t for t in texts) == 12
    assert any("需要补正材料：营业场所证明、身份证复印件" in t for t in texts)
    assert any("结果：准予许可" in t for t in texts)
    assert any("兴庆区政务服务中心 9 号窗口领取" in t for t in texts)
    assert all(t.startswith("【宁夏政务服务】") for t in texts)
    # Phones never appear in the logs in full; the outage is logged once, not per attempt.
    log = caplog.text
    assert "13800000001" not in log
    assert mask_phone("13800000001") in log
    assert log.count("SMS gateway failing") == 1
    assert log.count("SMS gateway delivering again") == 1


def test_permanent_refusal_is_not_retried(engine: sa.Engine, org: Org) -> None:
    port = free_port()
    gateway = Gateway(port)
    hooks = CaseHooks()
    outbox = SmsOutbox()
    hooks.register(outbox.on_case_event)
    sender = SmsSender(engine, HttpGateway(f"http://127.0.0.1:{port}/sms", "wrong-token"), Backoff())
    try:
        fire(engine, hooks, make_case(engine, org), "accepted", {}, phone="13812345678")
        sender.send_due()
        sender.send_due()
    finally:
        sender.stop()
        gateway.close()
    with Session(engine) as s:
        (row,) = s.exec(select(SmsMessage)).all()
    assert row.status == "failed"
    assert row.attempts == 1
    assert "401" in row.last_error


def test_no_phone_no_notice_and_rollback_drops_it(engine: sa.Engine, org: Org) -> None:
    hooks = CaseHooks()
    hooks.register(SmsOutbox().on_case_event)
    case_id = make_case(engine, org)
    fire(engine, hooks, case_id, "accepted", {})  # the case has no phone
    with Session(engine) as s:  # the case event is rolled back: its notice goes with it
        case = s.get(Case, case_id)
        assert case is not None
        case.applicant_phone = "13812345678"
        hooks.fire(s, case, "accepted", {})
        s.rollback()
    with Session(engine) as s:
        assert s.exec(select(SmsMessage)).all() == []


def test_service_sends_through_the_sink_after_commit(engine: sa.Engine, org: Org, tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        mqtt_ca=tmp_path / "ca",
        mqtt_cert=tmp_path / "c",
        mqtt_key=tmp_path / "k",
        demo=True,
    )
    sink = SinkGateway(tmp_path / "sink.jsonl")
    service = SmsService(settings, engine, gateway=sink)
    hooks = CaseHooks()
    hooks.register(service.on_case_event)
    service.start()
    try:
        fire(engine, hooks, make_case(engine, org), "result_ready", {}, phone="13912345678")
        fire(engine, hooks, make_case(engine, org), "result_ready", {"delivery": "mail"}, phone="13912345679")
        wait_until(
            lambda: sink.path.exists() and sink.path.read_text().count("\n") == 2, 10, what="SMS in sink"
        )
    finally:
        service.stop()
    pickup, mailed = (json.loads(line) for line in sink.path.read_text().splitlines())
    assert pickup["phone"] == "13912345678"
    assert "9 号窗口领取" in pickup["text"]
    assert "已邮寄送出" in mailed["text"]
