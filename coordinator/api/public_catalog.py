"""``/api/public/v1``: the published catalog for citizens and enterprises — read-only, no sign-in.

Shows only versions valid today; search by part of the name, department line code, unit, level and item type.
An item's page also shows its process steps (names, kinds, time limits) — never who handles them.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Query
from sqlmodel import col, select

from coordinator.api.deps import SessionDep
from coordinator.models.catalog import (
    PublicDepartment,
    PublicItem,
    PublicItemDetail,
    PublicItemList,
    PublicStep,
)
from workflow import process
from workflow.catalog import CatalogItem, ItemVersion, VersionStatus
from workflow.codes import ItemType
from workflow.errors import NotFound
from workflow.org import Department, OrgUnit

router = APIRouter(prefix="/api/public/v1", tags=["public catalog"])


def _current(today: dt.date, *entities: Any) -> Any:
    return (
        select(*(entities or (CatalogItem, ItemVersion, OrgUnit, Department)))
        .select_from(CatalogItem)
        .join(ItemVersion, col(ItemVersion.item_id) == col(CatalogItem.id))
        .join(OrgUnit, col(OrgUnit.id) == col(CatalogItem.unit_id))
        .join(Department, col(Department.id) == col(CatalogItem.department_id))
        .where(
            ItemVersion.status == VersionStatus.PUBLISHED,
            col(ItemVersion.valid_from) <= today,
            sa.or_(col(ItemVersion.valid_to).is_(None), col(ItemVersion.valid_to) > today),
        )
    )


def _public(item: CatalogItem, v: ItemVersion, unit: OrgUnit, dept: Department) -> PublicItem:
    assert item.id is not None
    assert v.id is not None
    return PublicItem(
        id=item.id, implementation_code=item.implementation_code, unit_code=unit.code, unit_name=unit.name,
        department_code=dept.code, department_name=dept.name, version_id=v.id, valid_from=v.valid_from,
        valid_to=v.valid_to, content=v.parsed(),
    )  # fmt: skip


@router.get("/items")
def search_items(
    session: SessionDep,
    q: Annotated[str | None, Query(max_length=100, description="part of the item name")] = None,
    department_code: Annotated[str | None, Query(max_length=32)] = None,
    unit_code: Annotated[str | None, Query(max_length=12)] = None,
    level: Annotated[int | None, Query(ge=1, le=6)] = None,
    item_type: Annotated[ItemType | None, Query(description="A.1 事项类型, e.g. 01")] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> PublicItemList:
    stmt = _current(dt.date.today())
    if q:
        stmt = stmt.where(col(ItemVersion.name).contains(q, autoescape=True))
    if department_code:
        stmt = stmt.where(Department.code == department_code)
    if unit_code:
        stmt = stmt.where(OrgUnit.code == unit_code)
    if level is not None:
        stmt = stmt.where(ItemVersion.level == level)
    if item_type is not None:
        stmt = stmt.where(ItemVersion.item_type == str(item_type))
    rows = session.exec(stmt.order_by(col(CatalogItem.implementation_code)).offset(offset).limit(limit)).all()
    data = [_public(*row) for row in rows]
    return PublicItemList(data=data, count=len(data))


@router.get("/departments")
def list_departments(session: SessionDep) -> list[PublicDepartment]:
    """The department lines that have at least one item valid today (for the search form)."""
    current = _current(dt.date.today(), col(CatalogItem.department_id))
    stmt = (
        select(Department.code, sa.func.min(Department.name))
        .where(col(Department.id).in_(current))
        .group_by(col(Department.code))
        .order_by(col(Department.code))
    )
    return [PublicDepartment(code=code, name=name) for code, name in session.exec(stmt)]


@router.get("/items/{item_id}")
def get_public_item(item_id: int, session: SessionDep) -> PublicItemDetail:
    row = session.exec(_current(dt.date.today()).where(CatalogItem.id == item_id)).first()
    if row is None:
        raise NotFound("事项不存在或当前没有有效版本")
    detail = PublicItemDetail(**_public(*row).model_dump())
    template = process.get_template(session, detail.version_id)
    if template is not None:
        definition = process.ProcessDefinition.model_validate(template.definition)
        detail.steps = [
            PublicStep(
                key=s.key,
                name=s.name,
                kind=str(s.kind),
                time_limit=s.time_limit,
                level=int(s.level) if s.level is not None else None,
                after=s.after,
            )
            for s in process.ordered_steps(definition)
        ]
        detail.critical_path_days = process.critical_path(definition)
    return detail
