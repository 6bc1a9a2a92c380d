"""Which seal an issuer signs with: rows in ``cert_seal``, key files in ``<data_dir>/seals``.

An issuer is the case's department, or its unit when the window has no department. The first certificate of an
issuer without a seal gets one issued by the CA; an imported PKCS#12 replaces the active seal.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from coordinator.certificates.errors import SealError
from coordinator.certificates.seal import (
    NewSeal,
    SealMaterial,
    draw_seal,
    import_pkcs12,
    issue_seal,
    seal_ca,
)
from coordinator.models.certificate import Seal
from workflow.org import Department, OrgUnit

log = logging.getLogger(__name__)


class SealStore:
    def __init__(self, pki_dir: Path | None, data_dir: Path) -> None:
        self.dir = data_dir / "seals"
        self._pki_dir = pki_dir
        self._data_dir = data_dir

    @property
    def ca_dir(self) -> Path:
        return seal_ca(self._pki_dir, self._data_dir).dir

    def trust_roots_pem(self, session: Session) -> list[str]:
        """The CA's certificate, and the self-signed roots in the chains of imported seals."""
        pems = [(self.ca_dir / "ca.pem").read_text()]
        for seal in session.exec(select(Seal).where(Seal.source == "pkcs12")):
            if seal.chain_pem.strip():
                pems.append(seal.chain_pem)
        return pems

    @staticmethod
    def issuer_name(session: Session, department_id: int | None, unit_id: int | None) -> str:
        if department_id is not None:
            dept = session.get(Department, department_id)
            if dept is not None:
                return dept.name
        unit = session.get(OrgUnit, unit_id) if unit_id is not None else None
        return unit.name if unit is not None else "hallmesh"

    @staticmethod
    def active(session: Session, department_id: int | None, unit_id: int | None) -> Seal | None:
        query = _issuer(select(Seal).where(col(Seal.active)), department_id, unit_id)
        return session.exec(query.order_by(col(Seal.id).desc())).first()

    def ensure(self, session: Session, department_id: int | None, unit_id: int | None) -> Seal:
        """The issuer's active seal; a new one from the CA when it has none (the caller commits)."""
        seal = self.active(session, department_id, unit_id)
        if seal is not None:
            return seal
        name = self.issuer_name(session, department_id, unit_id)
        new = issue_seal(self.ca_dir, self.dir, name, _stem(department_id, unit_id))
        log.info("seal issued for %s by the CA (serial %s)", name, new.serial)
        return self._add(session, department_id, unit_id, name, new, "ca")

    def import_p12(self, session: Session, department_id: int | None, unit_id: int | None, data: bytes,
                   password: bytes | None) -> Seal:  # fmt: skip
        name = self.issuer_name(session, department_id, unit_id)
        new = import_pkcs12(data, password, self.dir, _stem(department_id, unit_id))
        log.info("seal imported for %s (serial %s)", name, new.serial)
        seal = self._add(session, department_id, unit_id, name, new, "pkcs12")
        session.commit()
        session.refresh(seal)
        return seal

    def _add(self, session: Session, department_id: int | None, unit_id: int | None, name: str, new: NewSeal,
             source: str) -> Seal:  # fmt: skip
        for old in session.exec(_issuer(select(Seal).where(col(Seal.active)), department_id, unit_id)):
            old.active = False
            session.add(old)
        seal = Seal(
            department_id=department_id, unit_id=unit_id, name=name, cert_pem=new.cert_pem,
            chain_pem=new.chain_pem, key_file=new.key_file, source=source, serial=new.serial,
            not_after=new.not_after, active=True, created_at=time.time(),
        )  # fmt: skip
        session.add(seal)
        session.flush()
        return seal

    def material(self, seal: Seal) -> SealMaterial:
        if seal.not_after < time.time():
            raise SealError(f"{seal.name} 的签章证书已过期")
        appearance = self.dir / f"{Path(seal.key_file).stem}.seal.pdf"
        if not appearance.exists():
            self.dir.mkdir(parents=True, exist_ok=True)
            draw_seal(seal.name, appearance)
        return SealMaterial(seal.name, self.dir / seal.key_file, seal.cert_pem, seal.chain_pem, appearance)


def _issuer(
    query: SelectOfScalar[Seal], department_id: int | None, unit_id: int | None
) -> SelectOfScalar[Seal]:
    if department_id is not None:
        return query.where(Seal.department_id == department_id)
    return query.where(col(Seal.department_id).is_(None), Seal.unit_id == unit_id)


def _stem(department_id: int | None, unit_id: int | None) -> str:
    return f"dept-{department_id}" if department_id is not None else f"unit-{unit_id}"
