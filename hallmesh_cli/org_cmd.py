"""``hallmesh org …``: the organisation tree and staff accounts, straight on the coordinator's database.

    hallmesh org seed [--units FILE.csv]      Ningxia's region, cities and counties (+ lower levels from a CSV)
    hallmesh org import FILE.xlsx|FILE.csv    lower levels: units, departments, halls, windows (all or nothing)
    hallmesh org add-staff …                  an account, e.g. the first center admin (password asked for)

The database is ``--database-url``, else ``HALLMESH_DATABASE_URL``, else the SQLite file in
``HALLMESH_DATA_DIR`` (default ``.hallmesh/coordinator``) — the same one ``hallmesh coordinator serve`` uses.
Migrations are applied first. There are no default passwords: ``add-staff`` reads one from the terminal
(or from ``HALLMESH_NEW_PASSWORD`` for scripts); only ``hallmesh demo`` makes up passwords, and prints them.
"""

from __future__ import annotations

import argparse
import getpass
import os
from pathlib import Path
from typing import Any

PASSWORD_ENV = "HALLMESH_NEW_PASSWORD"  # noqa: S105 — the name of a variable, not a password


def default_database_url() -> str:
    url = os.environ.get("HALLMESH_DATABASE_URL", "")
    if url:
        return url
    data_dir = Path(os.environ.get("HALLMESH_DATA_DIR", ".hallmesh/coordinator"))
    return f"sqlite:///{(data_dir / 'coordinator.db').resolve()}"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    org = sub.add_parser("org", help="组织机构与人员 organisation tree and staff accounts")
    actions = org.add_subparsers(dest="org_command", required=True, metavar="ACTION")
    seed = actions.add_parser("seed", help="load the Ningxia region, its 5 cities and 22 counties/districts")
    seed.add_argument("--units", help="also load this CSV (code,name,level,parent_code): townships, villages")
    imp = actions.add_parser(
        "import", help="import townships, villages, departments, halls and windows (xlsx) or units (CSV)"
    )
    imp.add_argument(
        "file", help="workbook with sheets 单位/部门/大厅/窗口, or CSV code,name,level,parent_code"
    )
    staff = actions.add_parser("add-staff", help="create a staff account (asks for its password)")
    staff.add_argument("--employee-no", required=True, help="工号")
    staff.add_argument("--name", required=True, help="姓名")
    staff.add_argument("--unit-code", required=True, help="12-digit code of the unit, e.g. 640000000000")
    staff.add_argument("--department-code", help="line code of a department of that unit, e.g. SCJG")
    staff.add_argument(
        "--roles", required=True,
        help="comma-separated: clerk, reviewer, approver, dept_admin, center_admin, technician, ops_viewer, supervisor",
    )  # fmt: skip
    for p in (seed, imp, staff):
        p.add_argument(
            "--database-url", default=None, help="default: HALLMESH_DATABASE_URL or the data dir's SQLite"
        )
    seed.set_defaults(func=_seed)
    imp.set_defaults(func=_import)
    staff.set_defaults(func=_add_staff)


def _engine(args: argparse.Namespace) -> Any:
    from coordinator import db

    engine = db.make_engine(args.database_url or default_database_url())
    db.migrate(engine)
    return engine


def _seed(args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from workflow.errors import WorkflowError
    from workflow.seed import load_units, seed_ningxia

    engine = _engine(args)
    try:
        with Session(engine) as session:
            added = seed_ningxia(session)
            if args.units:
                added += load_units(session, Path(args.units).read_text(encoding="utf-8"))
            session.commit()
    except (WorkflowError, OSError) as err:
        print(f"error: {err}")
        return 2
    finally:
        engine.dispose()
    print(f"{added} units added")
    return 0


def _import(args: argparse.Namespace) -> int:
    from sqlmodel import Session, col, select

    from workflow.codes import Role
    from workflow.org import OrgUnit
    from workflow.org_import import import_org
    from workflow.scope import Scope

    try:
        data = Path(args.file).read_bytes()
    except OSError as err:
        print(f"error: {err}")
        return 2
    engine = _engine(args)
    try:
        with Session(engine) as session:
            root = session.exec(select(OrgUnit).where(col(OrgUnit.parent_id).is_(None))).first()
            if root is None or root.id is None:
                print("error: no organisation yet (run `hallmesh org seed` first)")
                return 2
            region = Scope(0, frozenset({Role.CENTER_ADMIN}), root.id, root.path, None)
            result = import_org(session, region, data)
            if result.issues:
                session.rollback()
                for issue in result.issues:
                    print(issue)
                print(f"error: {len(result.issues)} problems; nothing imported")
                return 2
            session.commit()
    finally:
        engine.dispose()
    for kind, c in result.counts.items():
        print(f"{kind}: {c.created} added, {c.updated} updated, {c.unchanged} unchanged")
    return 0


def _add_staff(args: argparse.Namespace) -> int:
    from sqlmodel import Session, select

    from coordinator.security import MIN_PASSWORD_LENGTH, Passwords
    from workflow.codes import Role
    from workflow.org import Department, unit_by_code
    from workflow.staff import Staff, join_roles

    try:
        roles = [Role(r.strip()) for r in args.roles.split(",") if r.strip()]
    except ValueError as err:
        print(f"error: {err}")
        return 2
    password = os.environ.get(PASSWORD_ENV) or getpass.getpass("密码 password: ")
    if len(password) < MIN_PASSWORD_LENGTH:
        print(f"error: the password needs at least {MIN_PASSWORD_LENGTH} characters")
        return 2
    engine = _engine(args)
    try:
        with Session(engine) as session:
            unit = unit_by_code(session, args.unit_code)
            if unit is None or unit.id is None:
                print(f"error: no unit {args.unit_code} (run `hallmesh org seed` first)")
                return 2
            dept_id = None
            if args.department_code:
                dept = session.exec(
                    select(Department).where(
                        Department.unit_id == unit.id, Department.code == args.department_code
                    )
                ).first()
                if dept is None:
                    print(f"error: unit {args.unit_code} has no department {args.department_code}")
                    return 2
                dept_id = dept.id
            if (
                session.exec(select(Staff.id).where(Staff.employee_no == args.employee_no)).first()
                is not None
            ):
                print(f"error: employee number {args.employee_no} exists")
                return 2
            staff = Staff(
                employee_no=args.employee_no, name=args.name, unit_id=unit.id, department_id=dept_id,
                roles=join_roles(roles), password_hash=Passwords().hash(password),
            )  # fmt: skip
            session.add(staff)
            session.commit()
    finally:
        engine.dispose()
    print(f"staff {args.employee_no} added")
    return 0
