"""API model families of the minimal cases (tables live in ``workflow.cases``)."""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, JsonValue


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CaseCreate(_In):
    window_id: int
    title: Annotated[str, Field(max_length=200)] = ""
    applicant_name: Annotated[str, Field(max_length=64)] = ""
    applicant_id_number: Annotated[str, Field(max_length=32, pattern=r"^[0-9A-Za-z]*$")] = ""


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
    materials: list[MaterialPublic] = []


class CaptureStart(_In):
    device_kind: Annotated[
        str, Field(pattern=r"^(scanner|doccam|sigpad)$", description="scanner, doccam or sigpad")
    ]
    device: Annotated[str | None, Field(max_length=64, description="device id, when the window has two")] = (
        None
    )
    args: dict[str, JsonValue] = Field(default_factory=dict, description="e.g. resolution, mode, source")


class PrintStart(_In):
    material_id: int
    device: Annotated[str | None, Field(max_length=64)] = None
    copies: Annotated[int, Field(ge=1, le=99)] = 1


class DeviceCommandStarted(BaseModel):
    agent_id: str
    device: str
    cmd_id: uuid.UUID
