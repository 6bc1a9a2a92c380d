"""Through the case workflow's own API (issue 7): its moves fire the hooks, so notices are queued and an
approval issues a sealed certificate, on SQLite and PostgreSQL. The workers run one round each, in the test."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from sqlmodel import col, select

from coordinator.blobs.store import BlobStore
from coordinator.cases.service import CaseService
from coordinator.certificates.seals import SealStore
from coordinator.certificates.service import CertificateService
from coordinator.certificates.verify import check_signature, trust_roots
from coordinator.certificates.worker import CertificateWorker
from coordinator.models.certificate import Certificate, CertificatePrint
from coordinator.models.sms import SmsMessage
from coordinator.sms.gateway import SinkGateway
from coordinator.sms.outbox import SmsOutbox
from coordinator.sms.sender import Backoff, SmsSender
from coordinator.state import LiveState
from tests.coordinator.api.conftest import Api, api, world  # noqa: F401  (fixtures)
from workflow.cases import Material


def test_workflow_moves_send_notices_and_an_approval_issues_a_certificate(world: Api, tmp_path: Path) -> None:  # noqa: F811
    engine = world.engine
    seals = SealStore(None, tmp_path)  # no PKI dir: a seal-only CA in the data dir
    blobs = BlobStore(tmp_path / "blobs", engine, 10_000_000)
    certificates = CertificateService(engine, blobs, seals)
    worker = CertificateWorker(engine, certificates, cast(CaseService, None), LiveState())
    outbox = SmsOutbox()
    world.coordinator.case_hooks.register(certificates.on_case_event)
    world.coordinator.case_hooks.register(outbox.on_case_event)
    c = world.client
    version = world.ids[("version", "own")]
    r = c.post(f"/api/v1/catalog/versions/{version}/publish", headers=world.as_("actor-dept_admin"),
               json={"valid_from": "2024-01-01"})  # fmt: skip
    assert r.status_code == 200, r.text
    body = {
        "item_version_id": version,
        "applicant_name": "李四",
        "applicant_phone": "13900001111",
        "channel": "2",
    }
    r = c.post("/api/v1/cases", headers=world.as_("actor-clerk"), json=body)
    assert r.status_code == 201, r.text
    case = r.json()

    def move(who: str, **kw: Any) -> None:
        r = c.post(f"/api/v1/cases/{case['id']}/actions", headers=world.as_(who), json=kw)
        assert r.status_code == 200, r.text

    move("actor-clerk", action="request_supplement")
    move("actor-clerk", action="supplement")
    with world.session() as s:
        m = Material(case_id=case["id"], kind="scan", sha256="b" * 64, size=1, media_type="application/pdf",
                     agent_id="pc", device_id="scanner", capture_id="cap-1", captured_at=0.0, filed_at=0.0)  # fmt: skip
        s.add(m)
        s.commit()
        material_id = m.id
    move("actor-clerk", action="assign_material", material_id=material_id, slot="身份证明")
    move("actor-clerk", action="accept")
    move("actor-reviewer", action="decide", step="review", decision="approve")
    move("actor-approver", action="decide", step="approve", decision="approve")
    move("actor-clerk", action="decide", step="done", decision="approve")
    move("actor-clerk", action="result_ready", delivery="mail")

    with world.session() as s:
        kinds = [m.kind for m in s.exec(select(SmsMessage).order_by(col(SmsMessage.id)))]
        (cert,) = s.exec(select(Certificate)).all()
    assert kinds == ["supplement_requested", "accepted", "concluded", "result_ready"]
    assert cert.status == "pending"
    assert cert.holder == "李四"

    sink = SinkGateway(tmp_path / "sink.jsonl")
    sender = SmsSender(engine, sink, Backoff())
    try:
        assert sender.send_due() == 4
    finally:
        sender.stop()
    texts = sink.path.read_text()
    assert "需要补正材料：身份证明" in texts
    assert "结果：准予许可" in texts
    assert "已邮寄送出" in texts

    worker.step()  # seal; the online case has no window, so its print fails at once
    with world.session() as s:
        cert = s.exec(select(Certificate)).one()
        (printed,) = s.exec(select(CertificatePrint)).all()
    assert cert.status == "valid"
    assert cert.sha256 is not None
    assert printed.status == "failed"
    pdf = blobs.path(cert.sha256).read_bytes()
    assert check_signature(pdf, trust_roots([(seals.ca_dir / "ca.pem").read_text()])).ok
