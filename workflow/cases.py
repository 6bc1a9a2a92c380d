"""Cases (办件) and their materials — the minimal core the counter devices file into (issue 3).

The full workflow (event ledger, deadlines, decisions) builds on these tables. A case belongs to the unit and
department of the window where it was opened, which is what :mod:`workflow.scope` limits it by. Each window
has at most one *current* case (:class:`CounterCase`): the one in front of the clerk, into which a capture
started on the device itself (the signature pad's OK button, the scanner's button) is filed.

A :class:`Material` is one file in the case: a scan, a photo, a signature and its strokes. It refers to the
blob store by sha256; ``(agent_id, capture_id)`` is unique, so a capture announced twice is filed once.
Its ``slot`` names the required material of the item version it fills (see :mod:`workflow.case_engine`).

The workflow columns of :class:`Case` (``state`` … ``ledger_head``) are a cache derived from the case's
event ledger (:mod:`workflow.ledger`), rewritten on every event; :class:`CaseTask` rows likewise (who has
to act on the case, where, and by when).
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

GENESIS = "0" * 64
"""The ``prev_hash`` of a case's first ledger event."""


class CaseStatus:
    OPEN = "open"
    CLOSED = "closed"


class Case(SQLModel, table=True):
    __tablename__ = "case_file"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40, unique=True, description="case number shown to the applicant")
    unit_id: int = Field(foreign_key="org_unit.id", index=True)
    department_id: int | None = Field(default=None, foreign_key="org_department.id")
    window_id: int | None = Field(default=None, foreign_key="org_window.id", index=True)
    item_version_id: int | None = Field(default=None, foreign_key="catalog_item_version.id")
    title: str = Field(default="", max_length=200)
    applicant_name: str = Field(default="", max_length=64)
    applicant_id_number: str = Field(default="", max_length=32, description="personal data: scoped")
    status: str = Field(default=CaseStatus.OPEN, max_length=16)
    opened_by: int = Field(foreign_key="staff.id")
    opened_at: float
    closed_at: float | None = None
    applicant_phone: str = Field(
        default="", max_length=20, description="personal data: scoped, masked in logs"
    )
    channel: str = Field(
        default="1", max_length=2, description="GB/T 39046 A.5: 1 window, 2 PC, 3 mobile, 4 post"
    )
    state: str = Field(default="submitted", max_length=24, index=True)
    outcome: str | None = Field(default=None, max_length=16)
    accepted_on: dt.date | None = None
    due_promised: dt.date | None = None
    due_statutory: dt.date | None = None
    due_next: dt.date | None = Field(default=None, description="the earliest open due date (urgency)")
    flag: str = Field(default="green", max_length=8)
    ledger_seq: int = Field(default=0, description="seq of the newest ledger event")
    ledger_head: str = Field(default=GENESIS, max_length=64, description="hash of the newest ledger event")
    updated_at: float | None = None


class CounterCase(SQLModel, table=True):
    """The case currently in front of the clerk at a window."""

    __tablename__ = "counter_case"

    window_id: int = Field(primary_key=True, foreign_key="org_window.id")
    case_id: int = Field(foreign_key="case_file.id")
    since: float


class Material(SQLModel, table=True):
    __tablename__ = "case_material"
    __table_args__ = (sa.UniqueConstraint("agent_id", "capture_id", name="uq_material_capture"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int | None = Field(
        default=None, foreign_key="case_file.id", index=True, description="None: no open case at the window"
    )
    window_id: int | None = Field(default=None, foreign_key="org_window.id", index=True)
    kind: str = Field(max_length=32)
    sha256: str = Field(max_length=64, index=True)
    size: int = Field(sa_type=sa.BigInteger)
    media_type: str = Field(max_length=64)
    pages: int = 1
    agent_id: str = Field(max_length=64)
    device_id: str = Field(max_length=64)
    capture_id: str = Field(max_length=64)
    cmd_id: str | None = Field(default=None, max_length=64)
    signs: str | None = Field(
        default=None, max_length=64, description="sha256 of the material a signature signs"
    )
    captured_at: float
    filed_at: float
    clerk_id: int | None = Field(default=None, foreign_key="staff.id")
    slot: str | None = Field(default=None, max_length=200, description="the required material it fills")


class TaskStatus:
    OPEN = "open"
    PAUSED = "paused"
    DONE = "done"
    CANCELLED = "cancelled"
    """the step was in progress when the case concluded (another branch denied, withdrawn, voided)"""


class CaseTask(SQLModel, table=True):
    """Who must act on a case next — derived from the ledger. Done tasks stay, so a department that took
    part in a case keeps seeing it (the scope admits a case through any of its tasks)."""

    __tablename__ = "case_task"
    __table_args__ = (
        sa.UniqueConstraint("case_id", "step_key", name="uq_case_task_step"),
        # the work queues: open tasks by role and unit, earliest due first (covering: ids come from the index)
        sa.Index(
            "ix_case_task_open",
            "role",
            "unit_id",
            "due",
            "id",
            "department_id",
            postgresql_where=sa.text("status = 'open'"),
            sqlite_where=sa.text("status = 'open'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case_file.id")
    step_key: str = Field(max_length=32)
    name: str = Field(max_length=64)
    role: str = Field(max_length=16)
    unit_id: int = Field(foreign_key="org_unit.id")
    department_id: int | None = Field(default=None, foreign_key="org_department.id")
    status: str = Field(default=TaskStatus.OPEN, max_length=12)
    since: dt.date
    due: dt.date | None = None
