"""Certificates (证照) issued at the end of a case: the registry, department seals, printer calibration and
the print jobs at the window (migration 0700).

The registry row holds what GB/T 36903 asks a licence record to name — number, holder, item, issuer, validity,
status — and the sha256 of the sealed PDF (a blob in the store). ``pending`` rows were queued by the case's
``concluded`` event and are sealed by the certificate worker right after the commit.
"""

from __future__ import annotations

from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class CertificateStatus(StrEnum):
    PENDING = "pending"
    """queued in the case's transaction; rendered and sealed by the worker"""
    VALID = "valid"
    REVOKED = "revoked"
    REPLACED = "replaced"
    FAILED = "failed"
    """could not be rendered or sealed (no seal for the issuer, a template error): see ``error``"""


class Certificate(SQLModel, table=True):
    __tablename__ = "cert_certificate"

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=48, unique=True, description="证照编号, printed on the certificate")
    case_id: int = Field(foreign_key="case_file.id", index=True)
    template: str = Field(max_length=48)
    holder: str = Field(max_length=64, description="持证主体")
    holder_id_number: str = Field(default="", max_length=32, description="personal data: never public")
    item: str = Field(max_length=200, description="the service item / licence name")
    issuer: str = Field(max_length=64, description="issuing department (name on the seal)")
    seal_id: int | None = Field(default=None, foreign_key="cert_seal.id")
    valid_from: float
    valid_until: float | None = Field(default=None, description="None: no expiry")
    status: str = Field(default=CertificateStatus.PENDING.value, max_length=16, index=True)
    sha256: str | None = Field(default=None, max_length=64, index=True, description="the sealed PDF")
    offset_x_mm: float = Field(default=0.0, description="calibration offset the overlay was rendered with")
    offset_y_mm: float = 0.0
    replaces_id: int | None = Field(default=None, foreign_key="cert_certificate.id")
    created_at: float
    issued_at: float | None = None
    revoked_at: float | None = None
    reason: str = Field(default="", max_length=200, description="why revoked, replaced or failed")


class Seal(SQLModel, table=True):
    """A seal key of an issuing department (or unit): certificate here, private key in ``<data_dir>/seals``."""

    __tablename__ = "cert_seal"

    id: int | None = Field(default=None, primary_key=True)
    department_id: int | None = Field(default=None, foreign_key="org_department.id", index=True)
    unit_id: int | None = Field(default=None, foreign_key="org_unit.id", index=True)
    name: str = Field(max_length=64, description="the name around the seal")
    cert_pem: str = Field(sa_type=sa.Text)
    chain_pem: str = Field(default="", sa_type=sa.Text, description="intermediates of an imported key")
    key_file: str = Field(max_length=200, description="file name under <data_dir>/seals (0600)")
    source: str = Field(max_length=16, description="'ca' (issued by the coordinator's CA) or 'pkcs12'")
    serial: str = Field(max_length=64)
    not_after: float
    active: bool = True
    created_at: float


class PrinterCalibration(SQLModel, table=True):
    """How far to move overlay text on one printer (right and down positive, millimetres)."""

    __tablename__ = "cert_printer_calibration"

    agent_id: str = Field(primary_key=True, max_length=64)
    device_id: str = Field(primary_key=True, max_length=64)
    offset_x_mm: float
    offset_y_mm: float
    updated_at: float


class PrintStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    """the command failed, expired or was refused; or the job was aborted or canceled"""


PRINT_FINISHED = (PrintStatus.COMPLETED.value, PrintStatus.FAILED.value)


class CertificatePrint(SQLModel, table=True):
    """One print of a certificate on a window's printer; a re-print of a failed one is a new row."""

    __tablename__ = "cert_print"

    id: int | None = Field(default=None, primary_key=True)
    certificate_id: int = Field(foreign_key="cert_certificate.id", index=True)
    window_id: int | None = Field(default=None, foreign_key="org_window.id")
    agent_id: str | None = Field(default=None, max_length=64)
    device_id: str | None = Field(default=None, max_length=64)
    status: str = Field(default=PrintStatus.QUEUED.value, max_length=16, index=True)
    cmd_id: str | None = Field(default=None, max_length=36, index=True)
    job_id: int | None = None
    job_state: str = Field(default="", max_length=32, description="the printer's last job-state keyword")
    reprint_of: int | None = Field(default=None, foreign_key="cert_print.id")
    requested_by: str = Field(default="", max_length=64, description="'case' or who asked for a re-print")
    error: str = Field(default="", max_length=512)
    created_at: float
    updated_at: float


# -- API models ------------------------------------------------------------------------------------------


class CertificatePublic(SQLModel):
    """What staff see of a registry row."""

    number: str
    case_id: int
    template: str
    holder: str
    item: str
    issuer: str
    valid_from: float
    valid_until: float | None
    status: str
    sha256: str | None
    issued_at: float | None
    reason: str


class CertificateLookup(SQLModel):
    """What anyone sees on the public verify page (the holder's name masked)."""

    number: str
    holder: str
    item: str
    issuer: str
    valid_from: float
    valid_until: float | None
    status: str
    sha256: str | None
    issued_at: float | None


class PrintPublic(SQLModel):
    id: int
    certificate_id: int
    agent_id: str | None
    device_id: str | None
    status: str
    cmd_id: str | None
    job_id: int | None
    job_state: str
    reprint_of: int | None
    requested_by: str
    error: str
    created_at: float
    updated_at: float


class CalibrationBody(SQLModel):
    offset_x_mm: float = Field(ge=-20, le=20, description="move overlay text right (negative: left)")
    offset_y_mm: float = Field(ge=-20, le=20, description="move overlay text down (negative: up)")


class SealPublic(SQLModel):
    id: int
    department_id: int | None
    unit_id: int | None
    name: str
    source: str
    serial: str
    not_after: float
    active: bool
