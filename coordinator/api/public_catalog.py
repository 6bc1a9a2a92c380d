"""``/api/public/v1/items``: the published catalog for citizens and enterprises — read-only, no sign-in.

Shows only versions valid today; search by part of the name, department line code and level.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Query
from sqlmodel import col, select

from coordinator.api.deps import SessionDep
from coordinator.models.catalog import PublicItem, PublicItemList
from workflow.catalog import CatalogItem, ItemVersion, VersionStatus
from workflow.errors import NotFound
from workflow.org import Department, OrgUnit

router = APIRouter(prefix="/api/public/v1", tags=["public catalog"])


def _current(today: dt.date) -> Any:
    return (
        select(CatalogItem, ItemVersion, OrgUnit, Department)
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
    rows = session.exec(stmt.order_by(col(CatalogItem.implementation_code)).offset(offset).limit(limit)).all()
    data = [_public(*row) for row in rows]
    return PublicItemList(data=data, count=len(data))


@router.get("/items/{item_id}")
def get_public_item(item_id: int, session: SessionDep) -> PublicItem:
    row = session.exec(_current(dt.date.today()).where(CatalogItem.id == item_id)).first()
    if row is None:
        raise NotFound("事项不存在或当前没有有效版本")
    return _public(*row)
