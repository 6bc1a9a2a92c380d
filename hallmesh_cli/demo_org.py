"""The demo's organisation: Ningxia, a street and a community under 兴庆区, departments, halls, windows bound
to the demo agents, a few published items, and one account per role with a password made up on every start.

Names and codes below the counties are demo data, not the official division codes.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, select

from coordinator.security import Passwords
from workflow import catalog
from workflow.catalog import ItemContent, Material
from workflow.codes import Role
from workflow.org import Department, Hall, OrgUnit, Window, unit_by_code
from workflow.seed import load_units, seed_ningxia
from workflow.staff import Staff, join_roles

LOWER_UNITS = """code,name,level,parent_code
640104001000,凤凰北街街道（演示）,5,640104000000
640104001001,丽景社区（演示）,6,640104001000
"""
COUNTY_OF_AGENT = {
    "yinchuan-xingqing": "640104000000", "shizuishan-dawukou": "640202000000", "wuzhong-litong": "640302000000",
    "guyuan-yuanzhou": "640402000000", "zhongwei-shapotou": "640502000000",
}  # fmt: skip
DEPARTMENTS = (("SCJG", "市场监督管理局"), ("GA", "公安局"))
USERS = (
    ("demo-admin", "区政务服务中心管理员", "640000000000", None, Role.CENTER_ADMIN),
    ("demo-supervisor", "电子监察员", "640000000000", None, Role.SUPERVISOR),
    ("demo-dept-admin", "兴庆区市场监管管理员", "640104000000", "SCJG", Role.DEPT_ADMIN),
    ("demo-clerk", "兴庆区受理员", "640104000000", "SCJG", Role.CLERK),
    ("demo-reviewer", "兴庆区审核员", "640104000000", "SCJG", Role.REVIEWER),
    ("demo-approver", "兴庆区审批员", "640104000000", "SCJG", Role.APPROVER),
    ("demo-technician", "兴庆区技术员", "640104000000", None, Role.TECHNICIAN),
)
ITEMS = (
    ("11640104SCJG0001", "个体工商户设立登记", "01", 15, 1),
    ("11640104SCJG0002", "食品经营许可", "01", 20, 10),
    ("11640104SCJG0003", "营业执照遗失补领", "20", 5, 1),
)


@dataclass(frozen=True)
class DemoUser:
    employee_no: str
    name: str
    role: Role
    password: str


def _dept(session: Session, unit: OrgUnit, code: str, name: str) -> Department:
    found = session.exec(
        select(Department).where(Department.unit_id == unit.id, Department.code == code)
    ).first()
    if found is None:
        found = Department(unit_id=unit.id or 0, code=code, name=name)
        session.add(found)
        session.flush()
    return found


def seed_demo(engine: sa.Engine, agent_ids: list[str]) -> list[DemoUser]:
    """Idempotent; every call sets fresh random passwords for the demo accounts and returns them."""
    passwords = Passwords()
    users: list[DemoUser] = []
    with Session(engine) as session:
        seed_ningxia(session)
        load_units(session, LOWER_UNITS)
        xingqing = unit_by_code(session, "640104000000")
        assert xingqing is not None
        depts = {code: _dept(session, xingqing, code, name) for code, name in DEPARTMENTS}
        for agent_id in agent_ids:
            county_code = next(
                (c for prefix, c in COUNTY_OF_AGENT.items() if agent_id.startswith(prefix)), None
            )
            unit = unit_by_code(session, county_code) if county_code else None
            if unit is None or session.exec(select(Window).where(Window.agent_id == agent_id)).first():
                continue
            hall = session.exec(select(Hall).where(Hall.unit_id == unit.id)).first()
            if hall is None:
                hall = Hall(unit_id=unit.id or 0, name=f"{unit.name}政务服务中心")
                session.add(hall)
                session.flush()
            number = agent_id.rsplit("-w", 1)[-1]
            session.add(
                Window(
                    hall_id=hall.id or 0,
                    unit_id=unit.id or 0,
                    number=number,
                    name=f"{number} 号窗口",
                    agent_id=agent_id,
                )
            )
        for code, name, kind, statutory, promised in ITEMS:
            if session.exec(
                select(catalog.CatalogItem.id).where(catalog.CatalogItem.implementation_code == code)
            ).first():
                continue
            content = ItemContent(
                name=name, item_type=kind, level=4, statutory_limit=statutory, promised_limit=promised,
                location="兴庆区政务服务中心一楼", hours="周一至周五 9:00-17:00", consultation="0951-12345",
                service_objects=["1", "2"], materials=[Material(name="申请书", originals=1), Material(name="身份证明", copies=1)],
            )  # fmt: skip
            _, version = catalog.create_item(
                session, code, code[:12], xingqing.id or 0, depts["SCJG"].id or 0, content
            )
            catalog.publish(session, version, dt.date(2026, 1, 1), None)
        for employee_no, name, unit_code, dept_code, role in USERS:
            unit = unit_by_code(session, unit_code)
            assert unit is not None
            dept_id = _dept(session, unit, dept_code, dict(DEPARTMENTS)[dept_code]).id if dept_code else None
            password = secrets.token_urlsafe(9)
            staff = session.exec(select(Staff).where(Staff.employee_no == employee_no)).first()
            if staff is None:
                staff = Staff(
                    employee_no=employee_no,
                    name=name,
                    unit_id=unit.id or 0,
                    department_id=dept_id,
                    roles=join_roles([role]),
                )
            staff.password_hash = passwords.hash(password)
            staff.failed_logins, staff.locked_until = 0, None
            staff.token_version += 1
            session.add(staff)
            users.append(DemoUser(employee_no, name, role, password))
        session.commit()
    return users


def banner_lines(database_url: str, agent_ids: list[str], base: str) -> list[str]:
    """Seed the demo organisation in the coordinator's database; the lines the demo prints about it."""
    from coordinator import db

    engine = db.make_engine(database_url)
    try:
        users = seed_demo(engine, agent_ids)
    finally:
        engine.dispose()
    lines = [f"  staff sign-in POST {base}/api/v1/auth/login  (演示账号，密码每次启动重新生成)"]
    lines += [f"    {u.employee_no:<17} {u.password:<14} {u.role.value:<13} {u.name}" for u in users]
    lines.append(f"  staff app     {base}/app/   (窗口工作台、待办、技术人员视图: sign in as demo-clerk, …)")
    lines.append(f"  boards        {base}/boards/   (统计看板、光荣榜、曝光台)")
    lines.append(f"  catalog       {base}/public/   (公开事项目录; API {base}/api/public/v1/items)")
    lines.append(f"  verify        {base}/verify/   (证照核验 certificate check)")
    return lines
