"""What a signed-in person may see and do — applied where queries are built, never per route.

A :class:`Scope` is made once per request from the staff row. Every read of a scoped table goes through
:meth:`Scope.select` or :meth:`Scope.get`; a row outside the scope is indistinguishable from a missing one
(:class:`~workflow.errors.NotFound`). What each role may do is the ``PERMISSIONS`` table.

Reach: the person's unit and every unit below it. Department-bound people (those with a department, unless
they are center admins or supervisors) see department-owned rows only of their department's line (same
department code, at their unit or below). A center admin at the regional center therefore acts region-wide.
A case is also within reach of whoever its tasks (``case_task``) are within reach of: the county that reviews
a village's case, a department of a parallel branch.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, select
from sqlmodel.sql.expression import SelectOfScalar

from workflow.cases import Case, CaseTask
from workflow.catalog import CatalogItem, ItemVersion
from workflow.codes import Role
from workflow.errors import Forbidden, NotFound
from workflow.org import Department, Hall, OrgUnit, Window, subtree_ids
from workflow.staff import Staff

T = TypeVar("T", bound=SQLModel)
R = TypeVar("R")


class Action(StrEnum):
    ORG_READ = "org.read"
    ORG_WRITE = "org.write"
    WINDOW_BIND = "window.bind"
    STAFF_READ = "staff.read"
    STAFF_WRITE = "staff.write"
    CATALOG_READ = "catalog.read"
    CATALOG_WRITE = "catalog.write"
    CASE_READ = "case.read"
    CASE_HANDLE = "case.handle"
    CASE_DECIDE = "case.decide"
    CASE_EXTEND = "case.extend"
    CASE_VOID = "case.void"
    CALENDAR_WRITE = "calendar.write"
    AUDIT_VERIFY = "audit.verify"
    STATS_READ = "stats.read"
    STATS_MANAGE = "stats.manage"


_ALL = frozenset(Role)
PERMISSIONS: dict[Action, frozenset[Role]] = {
    Action.ORG_READ: _ALL,
    Action.ORG_WRITE: frozenset({Role.CENTER_ADMIN}),
    Action.WINDOW_BIND: frozenset({Role.CENTER_ADMIN, Role.TECHNICIAN}),
    Action.STAFF_READ: frozenset({Role.CENTER_ADMIN, Role.DEPT_ADMIN, Role.SUPERVISOR}),
    Action.STAFF_WRITE: frozenset({Role.CENTER_ADMIN, Role.DEPT_ADMIN}),
    Action.CATALOG_READ: _ALL,
    Action.CATALOG_WRITE: frozenset({Role.CENTER_ADMIN, Role.DEPT_ADMIN}),
    Action.CASE_READ: frozenset(
        {Role.CLERK, Role.REVIEWER, Role.APPROVER, Role.DEPT_ADMIN, Role.CENTER_ADMIN, Role.SUPERVISOR}
    ),
    Action.CASE_HANDLE: frozenset({Role.CLERK, Role.CENTER_ADMIN}),
    Action.CASE_DECIDE: frozenset({Role.CLERK, Role.REVIEWER, Role.APPROVER}),
    Action.CASE_EXTEND: frozenset({Role.APPROVER, Role.DEPT_ADMIN}),
    Action.CASE_VOID: frozenset({Role.DEPT_ADMIN, Role.CENTER_ADMIN}),
    Action.CALENDAR_WRITE: frozenset({Role.CENTER_ADMIN}),
    Action.AUDIT_VERIFY: frozenset({Role.CENTER_ADMIN, Role.SUPERVISOR}),
    Action.STATS_READ: _ALL - {Role.TECHNICIAN},
    Action.STATS_MANAGE: frozenset({Role.CENTER_ADMIN}),
}

GRANTABLE: dict[Role, frozenset[Role]] = {
    Role.CENTER_ADMIN: _ALL,
    Role.DEPT_ADMIN: frozenset({Role.CLERK, Role.REVIEWER, Role.APPROVER}),
}
"""Roles a person holding the key may give to others (within their scope)."""

_UNBOUND = frozenset({Role.CENTER_ADMIN, Role.SUPERVISOR})


@dataclass(frozen=True)
class _Target:
    unit: Any
    department: Any | None
    shared_without_department: bool = False


_TARGETS: dict[type[SQLModel], _Target] = {
    OrgUnit: _Target(col(OrgUnit.id), None),
    Department: _Target(col(Department.unit_id), col(Department.id)),
    Hall: _Target(col(Hall.unit_id), None),
    Window: _Target(col(Window.unit_id), col(Window.department_id), shared_without_department=True),
    Staff: _Target(col(Staff.unit_id), col(Staff.department_id)),
    CatalogItem: _Target(col(CatalogItem.unit_id), col(CatalogItem.department_id)),
    Case: _Target(col(Case.unit_id), col(Case.department_id), shared_without_department=True),
    CaseTask: _Target(col(CaseTask.unit_id), col(CaseTask.department_id), shared_without_department=True),
}


@dataclass(frozen=True)
class Scope:
    staff_id: int
    roles: frozenset[Role]
    unit_id: int
    unit_path: str
    department_code: str | None
    """``None``: every department within reach."""

    @classmethod
    def of(cls, session: Session, staff: Staff) -> Scope:
        unit = session.get(OrgUnit, staff.unit_id)
        assert unit is not None
        assert staff.id is not None
        code: str | None = None
        roles = staff.role_set
        if staff.department_id is not None and not roles & _UNBOUND:
            dept = session.get(Department, staff.department_id)
            code = dept.code if dept is not None else None
        return cls(staff.id, roles, staff.unit_id, unit.path, code)

    def may(self, action: Action) -> bool:
        return bool(self.roles & PERMISSIONS[action])

    def require(self, action: Action) -> None:
        if not self.may(action):
            raise Forbidden("您的角色无权执行此操作")

    def may_grant(self, roles: frozenset[Role]) -> bool:
        allowed: frozenset[Role] = frozenset().union(*(GRANTABLE.get(r, frozenset()) for r in self.roles))
        return roles <= allowed

    def restrict(self, stmt: SelectOfScalar[R], model: type[SQLModel]) -> SelectOfScalar[R]:
        """``stmt`` (a select of ``model`` or of its columns) limited to the rows within this scope."""
        if model is ItemVersion:
            items = self.restrict(select(col(CatalogItem.id)), CatalogItem)
            return stmt.where(col(ItemVersion.item_id).in_(items))
        where = self._within(_TARGETS[model])
        if model is Case:  # or through one of its tasks (EXISTS: one index probe per case)
            via_task = sa.exists().where(
                col(CaseTask.case_id) == col(Case.id), self._within(_TARGETS[CaseTask])
            )
            where = sa.or_(where, via_task)
        return stmt.where(where)

    def _within(self, target: _Target) -> Any:
        where = target.unit.in_(subtree_ids(self.unit_path))
        if self.department_code is not None and target.department is not None:
            same_line = target.department.in_(
                sa.select(col(Department.id)).where(col(Department.code) == self.department_code)
            )
            if target.shared_without_department:
                same_line = sa.or_(same_line, target.department.is_(None))
            where = sa.and_(where, same_line)
        return where

    def select(self, model: type[T]) -> SelectOfScalar[T]:
        return self.restrict(select(model), model)

    def get(self, session: Session, model: type[T], row_id: int) -> T:
        """The row with ``row_id`` if it exists and is within scope; otherwise :class:`NotFound`."""
        pk = getattr(model, "id")  # noqa: B009 — every scoped table has an integer id
        row = session.exec(self.select(model).where(pk == row_id)).first()
        if row is None:
            raise NotFound(f"{_NAMES.get(model, '对象')}不存在")
        return row

    def check_place(self, session: Session, unit_id: int, department_id: int | None) -> None:
        """Refuse to put a row at ``unit_id``/``department_id`` unless both are within this scope."""
        self.get(session, OrgUnit, unit_id)
        if department_id is not None:
            dept = self.get(session, Department, department_id)
            if dept.unit_id != unit_id:
                raise NotFound("部门不存在")
        elif self.department_code is not None:
            raise NotFound("部门不存在")


_NAMES: dict[type[SQLModel], str] = {
    OrgUnit: "单位",
    Department: "部门",
    Hall: "大厅",
    Window: "窗口",
    Staff: "人员",
    CatalogItem: "事项",
    ItemVersion: "事项版本",
    Case: "办件",
    CaseTask: "办件环节",
}
