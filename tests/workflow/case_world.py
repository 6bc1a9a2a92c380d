"""A small world for case-engine tests: 兴庆区 with three department lines, a township and a village below it
(the village's window is a proxy point), an item with a process, and people of every role needed."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, select

from workflow import catalog, process
from workflow.case_engine import CHINA, Command
from workflow.case_states import Action
from workflow.cases import Case, Material
from workflow.catalog import ItemContent
from workflow.catalog import Material as Required
from workflow.codes import Level, Role
from workflow.org import Department, Hall, OrgUnit, Window, add_unit, unit_by_code
from workflow.scope import Scope
from workflow.staff import Staff, join_roles

_n = itertools.count(1)


def at(day: str, hour: int = 10) -> float:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), CHINA).timestamp()


def step(key: str, kind: str, role: str, limit: int, after: list[str], **kw: Any) -> dict[str, Any]:
    return {"key": key, "kind": kind, "name": key, "role": role, "time_limit": limit, "after": after, **kw}


SIMPLE = [
    step("accept", "受理", "clerk", 0, []),
    step("review", "审核", "reviewer", 5, ["accept"]),
    step("approve", "审批", "approver", 5, ["review"]),
    step("done", "办结", "clerk", 0, ["approve"]),
]
PARALLEL = [
    step("accept", "受理", "clerk", 0, []),
    step("scjg", "审核", "reviewer", 5, ["accept"]),
    step("ga", "审核", "reviewer", 5, ["accept"], department_code="GA"),
    step("zj", "审核", "reviewer", 5, ["accept"], department_code="ZJ"),
    step("done", "办结", "clerk", 0, ["scjg", "ga", "zj"]),
]
PROXY = [
    step("accept", "受理", "clerk", 0, [], level=6),
    step("review", "审核", "reviewer", 5, ["accept"], level=4),
    step("approve", "审批", "approver", 5, ["review"], level=4),
    step("done", "办结", "clerk", 0, ["approve"], level=4),
]


@dataclass
class World:
    county: OrgUnit
    village: OrgUnit
    depts: dict[str, int]
    windows: dict[str, int]
    staff: dict[str, Staff] = field(default_factory=dict)

    def scope(self, session: Session, who: str) -> Scope:
        return Scope.of(session, self.staff[who])

    def item(self, session: Session, steps: list[dict[str, Any]], promised: int = 20, statutory: int = 20,
             unit: str = "工作日") -> int:  # fmt: skip
        content = ItemContent(
            name=f"事项{next(_n)}", item_type="01", level=Level.COUNTY, statutory_limit=statutory,
            promised_limit=promised, promised_limit_unit=unit,
            materials=[Required(name="身份证明"), Required(name="营业执照", required=False)],
        )  # fmt: skip
        county_id = self.county.id or 0
        _, version = catalog.create_item(
            session, f"IMPL-{next(_n)}", "B", county_id, self.depts["SCJG"], content
        )
        process.set_template(session, version, process.ProcessDefinition.model_validate({"steps": steps}))
        catalog.publish(session, version, dt.date(2024, 1, 1), None)
        session.commit()
        return version.id or 0

    def new_case(self, window: str, version_id: int | None, **kw: Any) -> Case:
        w = self.windows[window]
        unit = self.village if window == "village" else self.county
        dept = None if window == "village" else self.depts["SCJG"]
        return Case(code=f"C{next(_n):08d}", unit_id=unit.id or 0, department_id=dept, window_id=w,
                    item_version_id=version_id, title="t", applicant_name="张三", applicant_phone="13800138000",
                    opened_by=self.staff["clerk"].id or 0, opened_at=0.0, **kw)  # fmt: skip


def add_material(session: Session, case: Case, slot: str | None = None) -> Material:
    m = Material(case_id=case.id, window_id=case.window_id, kind="scan", sha256="a" * 64, size=1,
                 media_type="application/pdf", agent_id="pc", device_id="scanner", capture_id=f"cap-{next(_n)}",
                 captured_at=0.0, filed_at=0.0, slot=slot)  # fmt: skip
    session.add(m)
    session.commit()
    return m


def build(session: Session) -> World:
    county = unit_by_code(session, "640104000000")
    assert county is not None
    depts: dict[str, int] = {}
    for code in ("SCJG", "GA", "ZJ"):
        d = session.exec(
            select(Department).where(Department.unit_id == county.id, Department.code == code)
        ).first()
        if d is None:
            d = Department(unit_id=county.id or 0, code=code, name=code)
            session.add(d)
            session.flush()
        depts[code] = d.id or 0
    township = add_unit(session, "640104001000", "凤凰北街街道", Level.TOWNSHIP, county)
    village = add_unit(session, "640104001001", "某社区", Level.VILLAGE, township)
    windows: dict[str, int] = {}
    for name, unit, dept in (("county", county, depts["SCJG"]), ("village", village, None)):
        hall = Hall(unit_id=unit.id or 0, name=name)
        session.add(hall)
        session.flush()
        w = Window(hall_id=hall.id or 0, unit_id=unit.id or 0, department_id=dept, number="1", name=name)
        session.add(w)
        session.flush()
        windows[name] = w.id or 0
    world = World(county, village, depts, windows)
    people: dict[str, tuple[OrgUnit, str | None, Role]] = {
        "clerk": (county, "SCJG", Role.CLERK), "reviewer": (county, "SCJG", Role.REVIEWER),
        "reviewer_ga": (county, "GA", Role.REVIEWER), "reviewer_zj": (county, "ZJ", Role.REVIEWER),
        "approver": (county, "SCJG", Role.APPROVER), "approver2": (county, "SCJG", Role.APPROVER),
        "dept_admin": (county, "SCJG", Role.DEPT_ADMIN), "village_clerk": (village, None, Role.CLERK),
    }  # fmt: skip
    for who, (unit, line, role) in people.items():
        s = Staff(employee_no=f"{who}-{next(_n)}", name=who, unit_id=unit.id or 0,
                  department_id=depts[line] if line else None, roles=join_roles([role]))  # fmt: skip
        session.add(s)
        world.staff[who] = s
    session.commit()
    return world


def cmd(action: str, **kw: Any) -> Command:
    return Command(action=Action(action), **kw)
