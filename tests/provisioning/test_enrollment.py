"""Provisioning building blocks: token codes, CSR signing and CRL entries, reloading a running broker through
its pid file, and ending a live session by taking it over."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509

from protocols.provisioning import BrokerAddress, EnrollResponse, StartingConfig
from provisioning import tokens
from provisioning.broker import PID_FILE, Broker, reload_running
from provisioning.enroll import agent_toml, load_or_create_key, make_csr, systemd_unit_text
from provisioning.errors import PkiError
from provisioning.pki import Pki
from provisioning.session import take_over_session
from tests.support import MqttProbe


def test_token_codes_are_short_and_forgiving() -> None:
    code = tokens.new_code()
    assert len(code) == 17
    assert code.count("-") == 2
    assert tokens.token_hash(code) == tokens.token_hash(code.lower().replace("-", " "))
    assert tokens.normalise("o1l-i") == "0111"
    assert tokens.new_code() != code
    uri = tokens.enroll_uri("http://10.0.0.5:8400", code, "yc-xq-w01")
    assert uri.startswith("hallmesh://enroll?coordinator=http%3A%2F%2F10.0.0.5%3A8400&token=")


def test_csr_is_signed_for_the_token_agent_and_revoked_by_serial(pki: Pki, tmp_path: Path) -> None:
    key = load_or_create_key(tmp_path / "agent.key")
    assert load_or_create_key(tmp_path / "agent.key").public_key() == key.public_key()  # kept, not replaced
    signed = pki.sign_agent_csr(make_csr(key, "whatever").encode(), "w01-pc", dt.timedelta(minutes=2))
    cert = x509.load_pem_x509_certificate(signed.pem.encode())
    assert cert.subject.rfc4514_string() == "CN=w01-pc"
    assert cert.public_key() == key.public_key()
    assert signed.not_after - signed.not_before == pytest.approx(126, abs=1)  # back-dated by 5 % only
    pki.verify_issued(cert)
    assert pki.revoke_serials([cert.serial_number, 12345]) == [cert.serial_number]
    crl = x509.load_pem_x509_crl(pki.crl_path.read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None
    with pytest.raises(PkiError, match="not a PEM certificate signing request"):
        pki.sign_agent_csr(b"junk", "w01-pc", dt.timedelta(days=1))
    with pytest.raises(PkiError, match="invalid agent id"):
        pki.sign_agent_csr(make_csr(key).encode(), "coordinator", dt.timedelta(days=1))
    other = Pki.create(tmp_path / "other-ca")
    with pytest.raises(PkiError, match="not issued by this CA"):
        other.verify_issued(cert)


def test_reload_running_broker_and_take_over_session(pki: Pki, broker: Broker, tmp_path: Path) -> None:
    assert (broker.dir / PID_FILE).read_text().strip() == str(broker.proc.pid)  # type: ignore[union-attr]
    files = pki.issue_agent("w01-pc")
    probe = MqttProbe(broker.port, pki.ca_cert_path, files.cert, files.key, "w01-pc").start()
    assert probe.connected.wait(5)
    pki.revoke("w01-pc")
    assert reload_running(broker.dir, pki) is True
    assert not probe.disconnected.is_set()  # Mosquitto keeps the session after a CRL reload …
    coord = pki.files("coordinator")
    take_over_session("localhost", broker.port, pki.ca_cert_path, coord.cert, coord.key, "w01-pc")
    assert probe.disconnected.wait(5)  # … until it is taken over
    probe.stop()
    broker.stop()
    assert not (broker.dir / PID_FILE).exists()
    assert reload_running(broker.dir, pki) is False


def test_agent_toml_and_systemd_unit(tmp_path: Path) -> None:
    resp = EnrollResponse(
        agent_id="w01-pc", service_point="yc-xq-w01", certificate_pem="x", ca_pem="y", serial="ab",
        not_after=0, broker=BrokerAddress(host="mqtt.example", port=8883), config=StartingConfig(),
    )  # fmt: skip
    text = agent_toml(resp, tmp_path, "http://coord:8400")
    assert 'agent_id = "w01-pc"' in text
    assert '[coordinator]\nurl = "http://coord:8400"' in text
    unit = systemd_unit_text(tmp_path / "agent.toml", "/opt/venv/bin/python")
    assert (
        f"ExecStart=/opt/venv/bin/python -m hallmesh_cli agent run --config {tmp_path / 'agent.toml'}" in unit
    )
