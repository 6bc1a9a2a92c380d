"""Rows a certificate or a notice needs: a county unit, a department, a window (bound to an agent) and cases."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from sqlmodel import Session

from coordinator.cases.hooks import CaseHooks
from workflow.cases import Case
from workflow.codes import Level
from workflow.org import Department, Hall, Window, add_unit
from workflow.staff import Staff

DEPARTMENT = "兴庆区行政审批服务局"


@dataclass(frozen=True)
class Org:
    unit_id: int
    department_id: int
    window_id: int
    staff_id: int


def make_org(engine: sa.Engine, agent_id: str | None = None) -> Org:
    with Session(engine) as s:
        region = add_unit(s, "640000000000", "宁夏回族自治区", Level.PROVINCE, None)
        city = add_unit(s, "640100000000", "银川市", Level.CITY, region)
        county = add_unit(s, "640104000000", "兴庆区", Level.COUNTY, city)
        assert county.id is not None
        dept = Department(unit_id=county.id, code="spj", name=DEPARTMENT)
        hall = Hall(unit_id=county.id, name="兴庆区政务服务中心")
        s.add_all([dept, hall])
        s.flush()
        assert dept.id is not None
        assert hall.id is not None
        window = Window(hall_id=hall.id, unit_id=county.id, department_id=dept.id, number="9", name="9 号窗口",
                        agent_id=agent_id)  # fmt: skip
        s.add(window)
        s.flush()
        assert window.id is not None
        staff = Staff(
            employee_no=f"clerk-{uuid.uuid4().hex[:6]}", name="王五", unit_id=county.id, roles="clerk"
        )
        s.add(staff)
        s.commit()
        assert staff.id is not None
        return Org(county.id, dept.id, window.id, staff.id)


def make_case(engine: sa.Engine, org: Org, applicant: str = "李四", title: str = "个体工商户设立登记") -> int:
    with Session(engine) as s:
        case = Case(
            code=f"HM20261128{uuid.uuid4().hex[:10].upper()}", unit_id=org.unit_id, department_id=org.department_id,
            window_id=org.window_id, title=title, applicant_name=applicant,
            applicant_id_number="640104199001011234", opened_by=org.staff_id, opened_at=time.time(),
        )  # fmt: skip
        s.add(case)
        s.commit()
        assert case.id is not None
        return case.id


def fire(engine: sa.Engine, hooks: CaseHooks, case_id: int, event: str, data: dict[str, Any],
         phone: str | None = None) -> None:  # fmt: skip
    """What the case workflow does: in one transaction, the case event and the listeners' rows."""
    with Session(engine) as s:
        case = s.get(Case, case_id)
        assert case is not None
        if phone is not None:
            case.applicant_phone = phone
        hooks.fire(s, case, event, data)
        s.commit()


def make_pkcs12(password: bytes, name: str = DEPARTMENT) -> bytes:
    """A seal key for ``name`` with its certificate from another (self-signed) root, as a PKCS#12 file."""
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "区电子印章中心")])
    now = dt.datetime.now(dt.UTC)
    root = (
        x509.CertificateBuilder().subject_name(root_name).issuer_name(root_name).public_key(root_key.public_key())
        .serial_number(1).not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True).sign(root_key, hashes.SHA256())
    )  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(root_name).public_key(key.public_key()).serial_number(2)
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .sign(root_key, hashes.SHA256())
    )  # fmt: skip
    p12 = pkcs12.serialize_key_and_certificates(
        b"seal", key, leaf, [root], serialization.BestAvailableEncryption(password)
    )
    return p12
