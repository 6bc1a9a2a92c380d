"""API model families of the catalog (tables live in ``workflow.catalog``).

Item content is ``workflow.catalog.ItemContent`` (``extra="forbid"``): a version's ``status``, ``number``,
validity and owning unit/department are never settable through it.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from workflow.catalog import ItemContent
from workflow.process import Step


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ItemCreate(_In):
    implementation_code: str = Field(pattern=r"^[A-Za-z0-9-]{1,64}$", description="实施编码")
    basic_code: str = Field(pattern=r"^[A-Za-z0-9-]{1,64}$", description="基本编码")
    unit_id: int
    department_id: int
    content: ItemContent


class DraftCreate(_In):
    content: ItemContent | None = Field(None, description="omitted: a copy of the latest version")


class Publish(_In):
    valid_from: dt.date
    valid_to: dt.date | None = Field(None, description="exclusive; null = until further notice")


class Close(_In):
    valid_to: dt.date


class VersionSummary(BaseModel):
    id: int
    number: int
    status: str
    name: str
    valid_from: dt.date | None
    valid_to: dt.date | None


class VersionPublic(VersionSummary):
    item_id: int
    content: ItemContent


class ItemPublic(BaseModel):
    id: int
    implementation_code: str
    basic_code: str
    unit_id: int
    department_id: int
    versions: list[VersionSummary]


class ItemList(BaseModel):
    data: list[ItemPublic]
    count: int


class ImportIssue(BaseModel):
    sheet: str
    row: int
    column: str
    reason: str


class ImportReport(BaseModel):
    ok: bool
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    issues: list[ImportIssue] = Field(default_factory=list)


class PublicItem(BaseModel):
    """What citizens see: the version valid today."""

    id: int
    implementation_code: str
    unit_code: str
    unit_name: str
    department_code: str
    department_name: str
    version_id: int
    valid_from: dt.date | None
    valid_to: dt.date | None
    content: ItemContent


class PublicStep(BaseModel):
    """A process step as citizens see it: what happens and in what time (never who handles it)."""

    name: str
    kind: str
    time_limit: int = Field(description="working days")
    level: int | None = Field(None, description="the level that handles it; null: the item's unit")
    after: list[str]
    key: str


class PublicItemDetail(PublicItem):
    """One item with its process steps (in order) and their critical path."""

    steps: list[PublicStep] = Field(default_factory=list)
    critical_path_days: int | None = None


class PublicItemList(BaseModel):
    data: list[PublicItem]
    count: int


class PublicDepartment(BaseModel):
    code: str
    name: str


class ProcessPublic(BaseModel):
    version_id: int
    steps: list[Step]
    critical_path_days: int = Field(description="the longest chain of step time limits, in working days")
