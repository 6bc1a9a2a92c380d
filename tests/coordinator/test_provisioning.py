"""Provisioning API on a real app and broker: tokens (hash only), enrollment and its refusals, idempotent
retries, signed renewal, revocation (CRL, broker reload, live session ended), decommission, audit, metrics."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from prometheus_client.parser import text_string_to_metric_families

from coordinator.settings import Settings
from protocols.provisioning import renew_signing_bytes
from provisioning.broker import Broker
from provisioning.enroll import load_or_create_key, make_csr, write_private
from provisioning.pki import Pki
from tests.coordinator.conftest import AUTH, Harness, make_settings
from tests.support import MqttProbe, wait_until


@pytest.fixture
def prov(
    pki: Pki, broker: Broker, db_url: str, tmp_path: Path, start_coordinator: Callable[..., Harness]
) -> Harness:
    settings: Settings = make_settings(
        pki, broker, db_url, tmp_path / "data", pki_dir=pki.dir, broker_dir=broker.dir, mqtt_host="localhost"
    )
    return start_coordinator(settings)


def new_token(
    h: Harness, agent_id: str = "w01-pc", service_point: str = "yc-xq-w01", **kw: Any
) -> dict[str, Any]:
    r = h.client.post(
        "/api/v1/provision/tokens",
        headers={**AUTH, "X-Hallmesh-Actor": "tech@laptop"},
        json={"agent_id": agent_id, "service_point": service_point, **kw},
    )
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


def enroll(h: Harness, code: str, key: ec.EllipticCurvePrivateKey, service_point: str = "yc-xq-w01") -> Any:
    return h.client.post(
        "/api/v1/enroll", json={"token": code, "service_point": service_point, "csr_pem": make_csr(key)}
    )


def test_enrollment_tokens_refusals_and_idempotent_retry(prov: Harness, tmp_path: Path) -> None:
    t = new_token(prov)
    assert len(t["code"]) == 17
    assert (
        prov.scalar("SELECT count(*) FROM enrollment_token WHERE token_hash LIKE :c", c=f"%{t['code']}%") == 0
    )
    key = load_or_create_key(tmp_path / "k1.key")
    assert (tmp_path / "k1.key").stat().st_mode & 0o777 == 0o600

    wrong = enroll(prov, t["code"], key, service_point="yc-xq-w02")
    assert wrong.status_code == 403
    assert wrong.json()["detail"] == "enrollment token is for service point yc-xq-w01, not yc-xq-w02"
    assert enroll(prov, "AAAAA-BBBBB-CCCCC", key).json()["detail"].startswith("unknown enrollment token")

    first = enroll(prov, t["code"], key)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["agent_id"] == "w01-pc"
    assert body["broker"] == {"host": "localhost", "port": prov.broker.port}
    cert = x509.load_pem_x509_certificate(body["certificate_pem"].encode())
    assert cert.public_key() == key.public_key()
    # Typed by hand, lower case and without dashes: same token. Same key again: the same certificate.
    again = enroll(prov, t["code"].lower().replace("-", ""), key)
    assert again.json()["serial"] == body["serial"]
    assert prov.scalar("SELECT count(*) FROM agent_certificate") == 1

    assert (
        prov.client.post(
            "/api/v1/enroll/confirm", json={"token": t["code"], "serial": body["serial"]}
        ).status_code
        == 200
    )
    reused = enroll(prov, t["code"], key)
    assert reused.status_code == 409
    assert "enrollment token already used: agent w01-pc enrolled with it at" in reused.json()["detail"]

    expired = new_token(prov, agent_id="w02-pc", ttl_s=0.05)
    time.sleep(0.1)  # the token's lifetime is the thing under test
    late = enroll(prov, expired["code"], key)
    assert late.status_code == 410
    assert late.json()["detail"].startswith("enrollment token expired at")

    audit = prov.get("/api/v1/provision/audit?limit=100")["data"]  # type: ignore[index]
    outcomes = [(a["action"], a["outcome"]) for a in reversed(audit)]
    assert outcomes.count(("enroll", "refused")) == 4
    assert ("token.create", "ok") in outcomes
    assert ("enroll.confirm", "ok") in outcomes
    creator = next(a for a in audit if a["action"] == "token.create")
    assert creator["actor"] == "api-token (tech@laptop)"
    assert creator["remote_addr"] == "127.0.0.1"


def test_retry_with_a_new_key_leaves_one_valid_certificate(prov: Harness, tmp_path: Path) -> None:
    t = new_token(prov)
    lost = enroll(prov, t["code"], load_or_create_key(tmp_path / "lost.key")).json()
    kept = enroll(prov, t["code"], load_or_create_key(tmp_path / "kept.key")).json()
    assert kept["serial"] != lost["serial"]
    rows = prov.rows("SELECT serial, revoked_at IS NULL FROM agent_certificate ORDER BY issued_at")
    assert [(serial, bool(valid)) for serial, valid in map(tuple, rows)] == [
        (lost["serial"], False),
        (kept["serial"], True),
    ]
    crl = x509.load_pem_x509_crl(prov.pki.crl_path.read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(int(lost["serial"], 16)) is not None


def renew_request(
    agent_id: str, cert_pem: str, key: ec.EllipticCurvePrivateKey, new_key: ec.EllipticCurvePrivateKey
) -> dict[str, Any]:
    csr = make_csr(new_key, agent_id)
    ts, nonce = time.time(), "n0nce-123456"
    sig = key.sign(renew_signing_bytes(agent_id, ts, nonce, csr), ec.ECDSA(hashes.SHA256()))
    return {"agent_id": agent_id, "certificate_pem": cert_pem, "csr_pem": csr, "ts": ts, "nonce": nonce,
            "signature_b64": base64.b64encode(sig).decode()}  # fmt: skip


def enrolled(
    h: Harness, tmp_path: Path, agent_id: str
) -> tuple[dict[str, Any], ec.EllipticCurvePrivateKey, Path]:
    t = new_token(h, agent_id=agent_id)
    key_path = tmp_path / f"{agent_id}.key"
    key = load_or_create_key(key_path)
    body = enroll(h, t["code"], key).json()
    cert_path = tmp_path / f"{agent_id}.pem"
    cert_path.write_text(body["certificate_pem"])
    h.client.post("/api/v1/enroll/confirm", json={"token": t["code"], "serial": body["serial"]})
    return body, key, cert_path


def expiry_metrics(h: Harness) -> dict[str, float]:
    families = text_string_to_metric_families(h.client.get("/metrics").text)
    family = next(f for f in families if f.name == "hallmesh_agent_certificate_expiry_timestamp_seconds")
    return {s.labels["agent"]: s.value for s in family.samples}


def test_signed_renewal_and_its_refusals(prov: Harness, tmp_path: Path) -> None:
    body, key, _ = enrolled(prov, tmp_path, "w01-pc")
    new_key = ec.generate_private_key(ec.SECP256R1())
    ok = prov.client.post(
        "/api/v1/renew", json=renew_request("w01-pc", body["certificate_pem"], key, new_key)
    )
    assert ok.status_code == 200, ok.text
    assert (
        x509.load_pem_x509_certificate(ok.json()["certificate_pem"].encode()).public_key()
        == new_key.public_key()
    )

    forged = renew_request(
        "w01-pc", body["certificate_pem"], ec.generate_private_key(ec.SECP256R1()), new_key
    )
    r = prov.client.post("/api/v1/renew", json=forged)
    assert (r.status_code, r.json()["detail"]) == (401, "the request signature does not verify")
    other = renew_request("w09-pc", body["certificate_pem"], key, new_key)
    assert (
        prov.client.post("/api/v1/renew", json=other).json()["detail"]
        == "the certificate is not this agent's"
    )
    stale = renew_request("w01-pc", body["certificate_pem"], key, new_key)
    stale["ts"] -= 3600
    assert "off the coordinator's clock" in prov.client.post("/api/v1/renew", json=stale).json()["detail"]

    expiry = ok.json()["not_after"]
    assert expiry_metrics(prov) == {"w01-pc": pytest.approx(expiry)}

    assert prov.client.post("/api/v1/provision/agents/w01-pc/revoke", headers=AUTH).status_code == 200
    after = prov.client.post(
        "/api/v1/renew", json=renew_request("w01-pc", ok.json()["certificate_pem"], new_key, new_key)
    )
    assert after.status_code == 403
    assert after.json()["detail"].startswith("agent w01-pc is revoked")
    assert (
        'agent="w01-pc"'
        not in prov.client.get("/metrics").text.split("certificate_expiry")[1].split("# HELP")[0]
    )


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_revoke_ends_the_live_session_and_refuses_reconnects(prov: Harness, tmp_path: Path) -> None:
    _, _, cert = enrolled(prov, tmp_path, "w01-pc")
    _, _, cert2 = enrolled(prov, tmp_path, "w02-pc")
    ca = prov.pki.ca_cert_path
    victim = MqttProbe(prov.broker.port, ca, cert, tmp_path / "w01-pc.key", "w01-pc").start()
    bystander = MqttProbe(prov.broker.port, ca, cert2, tmp_path / "w02-pc.key", "w02-pc").start()
    assert victim.connected.wait(5)
    assert bystander.connected.wait(5)
    t0 = time.monotonic()
    r = prov.client.post("/api/v1/provision/agents/w01-pc/revoke", headers=AUTH)
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["broker_reloaded"]
    assert result["session_ended"]
    assert victim.disconnected.wait(10)
    assert time.monotonic() - t0 < 10
    again = MqttProbe(prov.broker.port, ca, cert, tmp_path / "w01-pc.key", "w01-pc-again").start()
    assert again.disconnected.wait(10)
    assert not bystander.disconnected.is_set()
    victim.stop()
    bystander.stop()
    again.stop()
    detail = prov.get("/api/v1/provision/agents/w01-pc")
    assert detail["status"] == "revoked"  # type: ignore[index]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_decommission_keeps_history_and_takes_devices_out_of_service(prov: Harness, tmp_path: Path) -> None:
    enrolled(prov, tmp_path, "w01-pc")
    sim = prov.agent("w01-pc")
    sim.online()
    sim.birth()
    sim.wait_acked([sim.event(1)])
    r = prov.client.post("/api/v1/provision/agents/w01-pc/decommission", headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json()["devices_out_of_service"] >= 1
    devices = prov.get("/api/v1/devices?agent_id=w01-pc")["data"]  # type: ignore[index]
    assert {d["status"] for d in devices} == {"out_of_service"}
    assert prov.scalar("SELECT count(*) FROM event WHERE agent_id = 'w01-pc'") == 1
    wait_until(
        lambda: 'agent="w01-pc"' not in prov.client.get("/metrics").text, what="agent gone from /metrics"
    )


def test_provisioning_needs_the_api_token_and_a_pki(prov: Harness, coordinator_settings: Settings) -> None:
    assert prov.client.post("/api/v1/provision/tokens", json={}).status_code == 401
    assert prov.client.get("/api/v1/provision/audit").status_code == 401
    assert prov.client.get("/api/v1/provision/time").json()["now"] == pytest.approx(time.time(), abs=5)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_without_pki_dir_provisioning_is_refused_clearly(harness: Harness) -> None:
    r = harness.client.post(
        "/api/v1/provision/tokens", headers=AUTH, json={"agent_id": "a1", "service_point": "w1"}
    )
    assert r.status_code == 503
    assert "HALLMESH_PKI_DIR" in r.json()["detail"]


def test_write_private_is_0600(tmp_path: Path) -> None:
    write_private(tmp_path / "x", b"secret")
    assert (tmp_path / "x").stat().st_mode & 0o777 == 0o600
