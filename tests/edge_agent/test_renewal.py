"""The agent's certificate renewal: when it is due, finishing an interrupted swap, failing without harm."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from edge_agent.config import BrokerConfig, CoordinatorConfig
from edge_agent.errors import RenewalError
from edge_agent.renewal import Renewer, pem_validity
from provisioning.enroll import load_or_create_key, make_csr
from provisioning.pki import Pki
from tests.support import free_port


@pytest.fixture
def renewer(tmp_path: Path) -> Renewer:
    pki = Pki.create(tmp_path / "ca")
    key = load_or_create_key(tmp_path / "agent.key")
    signed = pki.sign_agent_csr(make_csr(key).encode(), "w01-pc", dt.timedelta(seconds=120))
    (tmp_path / "agent.pem").write_text(signed.pem)
    broker = BrokerConfig(ca=pki.ca_cert_path, cert=tmp_path / "agent.pem", key=tmp_path / "agent.key")
    coordinator = CoordinatorConfig(url=f"http://127.0.0.1:{free_port()}")
    return Renewer("w01-pc", broker, coordinator, on_renewed=lambda: None)


def test_validity_without_cryptography_matches_cryptography(renewer: Renewer, tmp_path: Path) -> None:
    from cryptography import x509

    for pem in (renewer.cert_path.read_text(), (tmp_path / "ca" / "ca.pem").read_text()):
        cert = x509.load_pem_x509_certificate(pem.encode())
        expected = cert.not_valid_before_utc.timestamp(), cert.not_valid_after_utc.timestamp()
        assert pem_validity(pem) == expected


def test_due_at_two_thirds_of_the_lifetime(renewer: Renewer) -> None:
    not_before, not_after = renewer.validity()
    assert renewer.due_at() == pytest.approx(not_before + (not_after - not_before) * 2 / 3)


def test_recover_finishes_an_interrupted_swap(renewer: Renewer) -> None:
    cert, key = renewer.cert_path, renewer.key_path
    # Crash after the key was renamed, before the certificate: only <cert>.next is left.
    cert.with_name(cert.name + ".next").write_text("NEW CERT")
    renewer.recover()
    assert cert.read_text() == "NEW CERT"
    assert not cert.with_name(cert.name + ".next").exists()
    # Crash before either rename: both are swapped in.
    key.with_name(key.name + ".next").write_text("NEW KEY")
    cert.with_name(cert.name + ".next").write_text("NEWER CERT")
    renewer.recover()
    assert (key.read_text(), cert.read_text()) == ("NEW KEY", "NEWER CERT")


def test_a_failed_renewal_keeps_the_old_files_and_the_new_key(renewer: Renewer) -> None:
    before = renewer.cert_path.read_text(), renewer.key_path.read_text()
    with pytest.raises(RenewalError, match="cannot reach the coordinator"):
        renewer.renew_once()
    assert (renewer.cert_path.read_text(), renewer.key_path.read_text()) == before
    pending = renewer.key_path.with_name("agent.key.next")
    assert pending.stat().st_mode & 0o777 == 0o600
    first = pending.read_text()
    with pytest.raises(RenewalError):
        renewer.renew_once()
    assert pending.read_text() == first  # a retry reuses the pending key
