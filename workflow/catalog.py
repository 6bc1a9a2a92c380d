"""The catalog of service items (事项), versioned: draft → published, validity periods never overlap.

A :class:`CatalogItem` is the stable identity (implementation code, owning unit and department). Its content —
the fields of GB/T 39046-2020 table 4 — lives in :class:`ItemVersion` rows. A draft may be edited; a published
version never changes (only its ``valid_to`` may be brought forward to close it), so a case that records an
``ItemVersion.id`` keeps exactly the rules it was opened under.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from pydantic import Field as PField
from sqlmodel import Field, Session, SQLModel, col, select

from workflow.codes import BodyNature, Channel, ItemType, Level, ServiceObject, TimeUnit
from workflow.errors import Conflict, InvalidInput


class VersionStatus:
    DRAFT = "draft"
    PUBLISHED = "published"


class Material(BaseModel):
    """申请材料."""

    model_config = ConfigDict(extra="forbid")

    name: str = PField(min_length=1, max_length=200)
    issuer: str = PField("", max_length=200, description="出具单位 / 来源渠道")
    originals: int = PField(0, ge=0, le=99, description="原件份数")
    copies: int = PField(0, ge=0, le=99, description="复印件份数")
    required: bool = True
    blank_form: str = PField("", max_length=500, description="空白表格（文件名或链接）")
    sample: str = PField("", max_length=500, description="示例样表")


class ItemContent(BaseModel):
    """The editable content of an item version (table 4 fields apart from the codes)."""

    model_config = ConfigDict(extra="forbid")

    name: str = PField(min_length=1, max_length=200)
    item_type: ItemType
    level: Level
    body_nature: BodyNature = BodyNature.STATUTORY
    handling_office: str = PField("", max_length=200)
    co_departments: str = PField("", max_length=500)
    legal_basis: str = ""
    conditions: str = ""
    process: str = ""
    quantity_limit: str = ""
    intermediary_services: str = ""
    special_procedures: str = ""
    statutory_limit: int = PField(0, ge=0, le=3650)
    statutory_limit_unit: TimeUnit = TimeUnit.WORKING_DAYS
    statutory_limit_note: str = ""
    promised_limit: int = PField(0, ge=0, le=3650)
    promised_limit_unit: TimeUnit = TimeUnit.WORKING_DAYS
    promised_limit_note: str = ""
    fee: str = PField("", description="收费标准；空 = 不收费")
    fee_basis: str = ""
    location: str = ""
    hours: str = ""
    consultation: str = ""
    supervision: str = ""
    service_objects: list[ServiceObject] = PField(default_factory=list)
    channels: list[Channel] = PField(default_factory=lambda: [Channel.WINDOW])
    appointment: bool = False
    online_payment: bool = False
    results: str = ""
    result_sample: str = ""
    materials: list[Material] = PField(default_factory=list)


class CatalogItem(SQLModel, table=True):
    __tablename__ = "catalog_item"

    id: int | None = Field(default=None, primary_key=True)
    implementation_code: str = Field(max_length=64, unique=True)
    basic_code: str = Field(max_length=64, index=True)
    unit_id: int = Field(foreign_key="org_unit.id", index=True)
    department_id: int = Field(foreign_key="org_department.id", index=True)
    created_at: float = Field(default_factory=time.time)


class ItemVersion(SQLModel, table=True):
    __tablename__ = "catalog_item_version"
    __table_args__ = (sa.UniqueConstraint("item_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="catalog_item.id", index=True)
    number: int
    status: str = Field(default=VersionStatus.DRAFT, max_length=16)
    name: str = Field(max_length=200, index=True)
    item_type: str = Field(max_length=4)
    level: int
    valid_from: dt.date | None = None
    valid_to: dt.date | None = Field(default=None, description="exclusive; None = open-ended")
    content: dict[str, Any] = Field(sa_type=sa.JSON)
    created_at: float = Field(default_factory=time.time)
    published_at: float | None = None

    def parsed(self) -> ItemContent:
        return ItemContent.model_validate(self.content)


def _apply(version: ItemVersion, content: ItemContent) -> None:
    version.content = content.model_dump(mode="json")
    version.name = content.name
    version.item_type = str(content.item_type)
    version.level = int(content.level)


def create_item(
    session: Session, implementation_code: str, basic_code: str, unit_id: int, department_id: int,
    content: ItemContent,
) -> tuple[CatalogItem, ItemVersion]:  # fmt: skip
    """A new item with its first draft (version 1)."""
    if session.exec(
        select(CatalogItem.id).where(CatalogItem.implementation_code == implementation_code)
    ).first():
        raise Conflict(f"实施编码 {implementation_code} 已存在")
    item = CatalogItem(
        implementation_code=implementation_code, basic_code=basic_code, unit_id=unit_id,
        department_id=department_id,
    )  # fmt: skip
    session.add(item)
    session.flush()
    assert item.id is not None
    version = ItemVersion(item_id=item.id, number=1, name="", item_type="", level=0, content={})
    _apply(version, content)
    session.add(version)
    session.flush()
    return item, version


def versions(session: Session, item_id: int) -> list[ItemVersion]:
    return list(
        session.exec(
            select(ItemVersion).where(ItemVersion.item_id == item_id).order_by(col(ItemVersion.number))
        )
    )


def _lock_item(session: Session, item_id: int) -> None:
    # PostgreSQL: serialise version changes of one item; SQLite: BEGIN IMMEDIATE already did.
    session.exec(select(CatalogItem.id).where(CatalogItem.id == item_id).with_for_update()).first()


def new_draft(session: Session, item_id: int, content: ItemContent | None = None) -> ItemVersion:
    """A new draft copied from the latest version (or with ``content``); one open draft per item."""
    _lock_item(session, item_id)
    existing = versions(session, item_id)
    if any(v.status == VersionStatus.DRAFT for v in existing):
        raise Conflict("该事项已有草稿版本，请先编辑或发布它")
    latest = existing[-1]
    version = ItemVersion(
        item_id=item_id, number=latest.number + 1, name="", item_type="", level=0, content={}
    )
    _apply(version, content if content is not None else latest.parsed())
    session.add(version)
    session.flush()
    return version


def update_draft(session: Session, version: ItemVersion, content: ItemContent) -> ItemVersion:
    if version.status != VersionStatus.DRAFT:
        raise Conflict("已发布的版本不可修改；请新建草稿版本")
    _apply(version, content)
    session.add(version)
    session.flush()
    return version


def _overlaps(a_from: dt.date, a_to: dt.date | None, b_from: dt.date, b_to: dt.date | None) -> bool:
    return (b_to is None or a_from < b_to) and (a_to is None or b_from < a_to)


def _period(start: dt.date, end: dt.date | None) -> str:
    return f"{start.isoformat()} 至 {end.isoformat() if end else '长期'}"


def publish(
    session: Session, version: ItemVersion, valid_from: dt.date, valid_to: dt.date | None
) -> ItemVersion:
    """Publish a draft for ``[valid_from, valid_to)``; refused if it overlaps another published version."""
    if version.status != VersionStatus.DRAFT:
        raise Conflict("只有草稿版本可以发布")
    if valid_to is not None and valid_to <= valid_from:
        raise InvalidInput("有效期截止日期必须晚于起始日期")
    _lock_item(session, version.item_id)
    for other in versions(session, version.item_id):
        if other.status != VersionStatus.PUBLISHED or other.valid_from is None:
            continue
        if _overlaps(valid_from, valid_to, other.valid_from, other.valid_to):
            raise Conflict(
                f"有效期 {_period(valid_from, valid_to)} 与已发布的第 {other.number} 版"
                f"（{_period(other.valid_from, other.valid_to)}）重叠；请先为该版本设置截止日期"
            )
    version.status = VersionStatus.PUBLISHED
    version.valid_from, version.valid_to = valid_from, valid_to
    version.published_at = time.time()
    session.add(version)
    session.flush()
    return version


def close(session: Session, version: ItemVersion, valid_to: dt.date) -> ItemVersion:
    """Bring a published version's end forward (never extend it, never before its start)."""
    if version.status != VersionStatus.PUBLISHED or version.valid_from is None:
        raise Conflict("只有已发布的版本可以设置截止日期")
    if valid_to <= version.valid_from:
        raise InvalidInput("截止日期必须晚于起始日期")
    if version.valid_to is not None and valid_to > version.valid_to:
        raise Conflict("截止日期只能提前，不能延长已发布版本的有效期")
    version.valid_to = valid_to
    session.add(version)
    session.flush()
    return version


def current_version(session: Session, item_id: int, on: dt.date) -> ItemVersion | None:
    """The published version valid on ``on`` (the one a case opened that day uses)."""
    return session.exec(
        select(ItemVersion).where(
            ItemVersion.item_id == item_id,
            ItemVersion.status == VersionStatus.PUBLISHED,
            col(ItemVersion.valid_from) <= on,
            sa.or_(col(ItemVersion.valid_to).is_(None), col(ItemVersion.valid_to) > on),
        )
    ).first()
