from pathlib import Path

import pytest
from cryptography import x509

from provisioning.errors import PkiError
from provisioning.pki import Pki


def test_agent_certificate_carries_the_agent_id_and_chains_to_the_ca(tmp_path: Path) -> None:
    pki = Pki.create(tmp_path / "pki")
    files = pki.issue_agent("county-01.win-3")
    cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
    ca = x509.load_pem_x509_certificate(pki.ca_cert_path.read_bytes())
    assert cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "county-01.win-3"
    cert.verify_directly_issued_by(ca)
    assert files.key.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "pki" / "ca.key").stat().st_mode & 0o777 == 0o600


def test_create_is_idempotent(tmp_path: Path) -> None:
    first = Pki.create(tmp_path / "pki").ca_cert_path.read_bytes()
    assert Pki.create(tmp_path / "pki").ca_cert_path.read_bytes() == first


@pytest.mark.parametrize(
    ("agent_id", "message"), [("Bad Id", "invalid agent id"), ("coordinator", "reserved")]
)
def test_bad_agent_ids_are_refused(tmp_path: Path, agent_id: str, message: str) -> None:
    pki = Pki.create(tmp_path / "pki")
    with pytest.raises(PkiError, match=message):
        pki.issue_agent(agent_id)


def test_revocation_lands_in_the_crl(tmp_path: Path) -> None:
    pki = Pki.create(tmp_path / "pki")
    pki.issue_agent("a1")
    pki.issue_agent("a2")
    serial = pki.revoke("a1")
    crl = x509.load_pem_x509_crl(pki.crl_path.read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(serial) is not None
    assert [c.name for c in pki.issued() if c.revoked] == ["a1"]
    with pytest.raises(PkiError, match="no certificate"):
        pki.revoke("nobody")


def test_missing_ca_is_reported(tmp_path: Path) -> None:
    with pytest.raises(PkiError, match="no CA"):
        Pki(tmp_path)
