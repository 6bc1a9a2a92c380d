"""API model families of cases and their workflow (tables live in ``workflow.cases`` and ``workflow.ledger``)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CaseCreate(_In):
    window_id: int | None = Field(None, description="the window it is submitted at; null: online")
    item_version_id: int | None = Field(None, description="the published item version applied for")
    title: Annotated[str, Field(max_length=200)] = ""
    applicant_name: Annotated[str, Field(max_length=64)] = ""
    applicant_id_number: Annotated[str, Field(max_length=32, pattern=r"^[0-9A-Za-z]*$")] = ""
    applicant_phone: Annotated[str, Field(max_length=20, pattern=r"^\+?[0-9-]*$")] = ""
    channel: Literal["1", "2", "3", "4"] = Field("1", description="1 window, 2 PC, 3 mobile, 4 post")


class MaterialPublic(BaseModel):
    id: int
    case_id: int | None
    window_id: int | None
    kind: str
    sha256: str
    size: int
    media_type: str
    pages: int
    agent_id: str
    device_id: str
    capture_id: str
    cmd_id: str | None
    signs: str | None
    captured_at: float
    filed_at: float
    clerk_id: int | None
    slot: str | None = None


class CasePublic(BaseModel):
    id: int
    code: str
    unit_id: int
    department_id: int | None
    window_id: int | None
    title: str
    applicant_name: str
    applicant_id_number: str
    status: str
    opened_by: int
    opened_at: float
    closed_at: float | None
    item_version_id: int | None = None
    applicant_phone: str = ""
    channel: str = "1"
    state: str = "submitted"
    outcome: str | None = None
    accepted_on: dt.date | None = None
    due_promised: dt.date | None = None
    due_statutory: dt.date | None = None
    due_next: dt.date | None = None
    flag: str = "green"
    materials: list[MaterialPublic] = []


class CaptureStart(_In):
    device_kind: Annotated[
        str, Field(pattern=r"^(scanner|doccam|sigpad)$", description="scanner, doccam or sigpad")
    ]
    device: Annotated[str | None, Field(max_length=64, description="device id, when the window has two")] = (
        None
    )
    args: dict[str, JsonValue] = Field(default_factory=dict, description="e.g. resolution, mode, source")


class ScanOptions(_In):
    """What a ``scanner`` capture may ask of the scanner driver (``edge_agent.drivers.scanner``); omitted: the
    device's configured default."""

    source: Literal["Flatbed", "ADF"] | None = Field(None, description="Flatbed: one page; ADF: the feeder")
    resolution: Annotated[int | None, Field(ge=75, le=600, strict=True, description="dpi")] = None
    mode: Literal["Color", "Gray", "Lineart"] | None = Field(
        None, description="colour, grey, black and white"
    )
    pages: Annotated[
        int | None,
        Field(
            ge=1, le=1000, strict=True, description="ADF only: stop after this many pages; none: until empty"
        ),
    ] = None

    @field_validator("pages")
    @classmethod
    def _pages_need_the_feeder(cls, pages: int | None, info: ValidationInfo) -> int | None:
        if pages is not None and info.data.get("source") != "ADF":
            raise PydanticCustomError("scan_pages", "pages applies to the ADF source only")
        return pages


class PrintStart(_In):
    material_id: int
    device: Annotated[str | None, Field(max_length=64)] = None
    copies: Annotated[int, Field(ge=1, le=99)] = 1


class DeviceCommandStarted(BaseModel):
    agent_id: str
    device: str
    cmd_id: uuid.UUID


class CaseCommand(_In):
    """One move on a case. Which fields matter depends on ``action`` (the rest are ignored)."""

    action: Literal[
        "precheck", "request_supplement", "supplement", "accept", "not_accept", "decide", "special_start",
        "special_end", "extend", "withdraw", "void", "result_ready", "deliver", "evaluate", "assign_material",
    ]  # fmt: skip
    step: Annotated[str | None, Field(max_length=32, description="decide: the step's key")] = None
    decision: Literal["approve", "deny"] | None = None
    opinion: Annotated[str, Field(max_length=2000, description="opinion / reason / comment")] = ""
    kind: Annotated[str, Field(max_length=32, description="special_start: 听证, 专家评审, 检验检测, …")] = ""
    days: Annotated[int, Field(ge=0, le=60, description="extend: days in the limit's unit")] = 0
    missing: list[Annotated[str, Field(max_length=200)]] = Field(default_factory=list, max_length=50)
    delivery: Literal["pickup", "mail"] = "pickup"
    score: Annotated[int, Field(ge=0, le=5, description="evaluate: 1 (very unsatisfied) … 5")] = 0
    material_id: int | None = None
    slot: Annotated[str | None, Field(max_length=200, description="assign_material: null unassigns")] = None


class EventPublic(BaseModel):
    seq: int
    type: str
    actor_id: int | None
    role: str
    data: dict[str, Any]
    at: float
    hash: str


class TaskPublic(BaseModel):
    id: int
    case_id: int
    step_key: str
    name: str
    role: str
    unit_id: int
    department_id: int | None
    status: str
    since: dt.date
    due: dt.date | None


class SlotPublic(BaseModel):
    name: str
    required: bool
    material_ids: list[int]


class CaseDetail(BaseModel):
    case: CasePublic
    timeline: list[EventPublic]
    tasks: list[TaskPublic]
    slots: list[SlotPublic]
    missing: list[str]
    moves: list[str] = Field(
        default_factory=list,
        description="the actions the signed-in person may take on the case now (its state, their roles, tasks)",
    )


class QueueEntry(BaseModel):
    task: TaskPublic
    case_code: str
    title: str
    state: str
    flag: str
    task_flag: str
    due_next: dt.date | None


class QueuePage(BaseModel):
    data: list[QueueEntry]
    count: int


class CasesPage(BaseModel):
    data: list[CasePublic]
    count: int


class BreakPublic(BaseModel):
    case_id: int
    seq: int
    reason: str


class AuditReport(BaseModel):
    ok: bool
    cases: int
    events: int
    first_break: BreakPublic | None


class CalendarDayIn(_In):
    working: bool
    name: Annotated[str, Field(max_length=64)] = ""


class CalendarDayPublic(BaseModel):
    region: str
    day: dt.date
    working: bool
    name: str
    source: str
