"""``/api/v1/catalog``: service items and their versions, spreadsheet import and export (staff, scoped).

Versions: a draft is edited with ``PUT /versions/{id}``; ``POST …/publish`` fixes it for a validity period that
must not overlap another published version (409 otherwise); ``POST …/close`` brings a published version's end
forward. Published content never changes, so a case keeps the ``version id`` it was opened under.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Response, status
from fastapi.responses import JSONResponse
from sqlmodel import Session, col, select

from coordinator.api.deps import SessionDep
from coordinator.api.principal import PrincipalDep
from coordinator.models.catalog import (
    Close,
    DraftCreate,
    ImportIssue,
    ImportReport,
    ItemCreate,
    ItemList,
    ItemPublic,
    ProcessPublic,
    Publish,
    VersionPublic,
    VersionSummary,
)
from workflow import catalog, process, xlsx
from workflow.catalog import CatalogItem, ItemContent, ItemVersion
from workflow.errors import InvalidInput, NotFound
from workflow.importer import export_records, export_staff, import_workbook
from workflow.scope import Action, Scope

router = APIRouter(prefix="/api/v1/catalog", tags=["catalog"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_WORKBOOK_BYTES = 20 * 1024 * 1024


def _summary(v: ItemVersion) -> VersionSummary:
    assert v.id is not None
    return VersionSummary(
        id=v.id, number=v.number, status=v.status, name=v.name, valid_from=v.valid_from, valid_to=v.valid_to
    )


def version_public(v: ItemVersion) -> VersionPublic:
    return VersionPublic(**_summary(v).model_dump(), item_id=v.item_id, content=v.parsed())


def _item_public(item: CatalogItem, versions: list[ItemVersion]) -> ItemPublic:
    assert item.id is not None
    return ItemPublic(
        id=item.id, implementation_code=item.implementation_code, basic_code=item.basic_code,
        unit_id=item.unit_id, department_id=item.department_id, versions=[_summary(v) for v in versions],
    )  # fmt: skip


def _version_for_write(scope: Scope, session: Session, version_id: int) -> ItemVersion:
    scope.require(Action.CATALOG_WRITE)
    return scope.get(session, ItemVersion, version_id)


@router.get("/items")
def list_items(
    principal: PrincipalDep,
    session: SessionDep,
    q: Annotated[str | None, Query(max_length=100, description="part of the name")] = None,
    unit_id: int | None = None,
    department_id: int | None = None,
    level: Annotated[int | None, Query(ge=1, le=6)] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ItemList:
    scope = principal.scope
    scope.require(Action.CATALOG_READ)
    stmt = scope.select(CatalogItem)
    if unit_id is not None:
        stmt = stmt.where(CatalogItem.unit_id == unit_id)
    if department_id is not None:
        stmt = stmt.where(CatalogItem.department_id == department_id)
    if q is not None or level is not None:
        matching = select(col(ItemVersion.item_id))
        if q:
            matching = matching.where(col(ItemVersion.name).contains(q, autoescape=True))
        if level is not None:
            matching = matching.where(ItemVersion.level == level)
        stmt = stmt.where(col(CatalogItem.id).in_(matching))
    items = list(
        session.exec(stmt.order_by(col(CatalogItem.implementation_code)).offset(offset).limit(limit))
    )
    by_item: dict[int, list[ItemVersion]] = {}
    ids = [i.id for i in items]
    for v in session.exec(
        select(ItemVersion).where(col(ItemVersion.item_id).in_(ids)).order_by(col(ItemVersion.number))
    ):
        by_item.setdefault(v.item_id, []).append(v)
    data = [_item_public(i, by_item.get(i.id or 0, [])) for i in items]
    return ItemList(data=data, count=len(data))


@router.get("/items/{item_id}")
def get_item(item_id: int, principal: PrincipalDep, session: SessionDep) -> ItemPublic:
    principal.scope.require(Action.CATALOG_READ)
    item = principal.scope.get(session, CatalogItem, item_id)
    return _item_public(item, catalog.versions(session, item_id))


@router.post("/items", status_code=status.HTTP_201_CREATED)
def create_item(body: ItemCreate, principal: PrincipalDep, session: SessionDep) -> ItemPublic:
    principal.scope.require(Action.CATALOG_WRITE)
    principal.scope.check_place(session, body.unit_id, body.department_id)
    item, version = catalog.create_item(
        session, body.implementation_code, body.basic_code, body.unit_id, body.department_id, body.content
    )
    session.commit()
    return _item_public(item, [version])


@router.post("/items/{item_id}/versions", status_code=status.HTTP_201_CREATED)
def create_draft(
    item_id: int, body: DraftCreate, principal: PrincipalDep, session: SessionDep
) -> VersionPublic:
    principal.scope.require(Action.CATALOG_WRITE)
    principal.scope.get(session, CatalogItem, item_id)
    previous = catalog.versions(session, item_id)[-1]
    version = catalog.new_draft(session, item_id, body.content)
    process.copy_template(session, previous.id or 0, version.id or 0)
    session.commit()
    return version_public(version)


@router.get("/versions/{version_id}")
def get_version(version_id: int, principal: PrincipalDep, session: SessionDep) -> VersionPublic:
    principal.scope.require(Action.CATALOG_READ)
    return version_public(principal.scope.get(session, ItemVersion, version_id))


@router.put("/versions/{version_id}")
def update_version(
    version_id: int, body: ItemContent, principal: PrincipalDep, session: SessionDep
) -> VersionPublic:
    version = _version_for_write(principal.scope, session, version_id)
    catalog.update_draft(session, version, body)
    session.commit()
    return version_public(version)


@router.post("/versions/{version_id}/publish")
def publish_version(
    version_id: int, body: Publish, principal: PrincipalDep, session: SessionDep
) -> VersionPublic:
    version = _version_for_write(principal.scope, session, version_id)
    catalog.publish(session, version, body.valid_from, body.valid_to)
    session.commit()
    return version_public(version)


@router.post("/versions/{version_id}/close")
def close_version(
    version_id: int, body: Close, principal: PrincipalDep, session: SessionDep
) -> VersionPublic:
    version = _version_for_write(principal.scope, session, version_id)
    catalog.close(session, version, body.valid_to)
    session.commit()
    return version_public(version)


@router.get("/versions/{version_id}/process")
def get_process(version_id: int, principal: PrincipalDep, session: SessionDep) -> ProcessPublic:
    principal.scope.require(Action.CATALOG_READ)
    version = principal.scope.get(session, ItemVersion, version_id)
    template = process.get_template(session, version_id)
    if template is None:
        raise NotFound("该版本尚未定义办理流程")
    definition = process.ProcessDefinition.model_validate(template.definition)
    return ProcessPublic(
        version_id=version.id or 0,
        steps=definition.steps,
        critical_path_days=process.critical_path(definition),
    )


@router.put("/versions/{version_id}/process")
def set_process(
    version_id: int, body: process.ProcessDefinition, principal: PrincipalDep, session: SessionDep
) -> ProcessPublic:
    """Define the steps of a draft version; every problem is listed in the 422 answer."""
    version = _version_for_write(principal.scope, session, version_id)
    process.set_template(session, version, body)
    session.commit()
    return ProcessPublic(
        version_id=version_id, steps=body.steps, critical_path_days=process.critical_path(body)
    )


@router.post(
    "/import",
    responses={422: {"model": ImportReport, "description": "problems found; nothing was imported"}},
    openapi_extra={"requestBody": {"content": {XLSX: {"schema": {"type": "string", "format": "binary"}}}}},
)
def import_catalog(
    principal: PrincipalDep, session: SessionDep, data: Annotated[bytes, Body(media_type=XLSX)]
) -> ImportReport:
    """Import a filled catalog workbook (request body: the .xlsx file). Any problem → 422, nothing imported."""
    principal.scope.require(Action.CATALOG_WRITE)
    if len(data) > MAX_WORKBOOK_BYTES:
        raise InvalidInput(f"文件超过 {MAX_WORKBOOK_BYTES // (1024 * 1024)} MB")
    result = import_workbook(session, principal.scope, data)
    if result.issues:
        session.rollback()
        report = ImportReport(ok=False, issues=[ImportIssue(**vars(i)) for i in result.issues])
        return JSONResponse(report.model_dump(), status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)  # type: ignore[return-value]
    session.commit()
    return ImportReport(ok=True, created=result.created, updated=result.updated, unchanged=result.unchanged)


@router.get("/export", response_class=Response, responses={200: {"content": {XLSX: {}}}})
def export_catalog(principal: PrincipalDep, session: SessionDep) -> Response:
    """The latest version of every item within scope (and its staff per step), in the import template's shape."""
    principal.scope.require(Action.CATALOG_READ)
    scope = principal.scope
    data = xlsx.write(export_records(session, scope), export_staff(session, scope))
    return Response(
        data, media_type=XLSX, headers={"Content-Disposition": 'attachment; filename="catalog.xlsx"'}
    )
