"""Process templates: a valid graph with parallel departments and forwarding; every kind of mistake named;
templates fixed with their version and carried into the next draft."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from tests.coordinator.api.conftest import content
from workflow import catalog, process
from workflow.errors import Conflict, InvalidInput
from workflow.org import Department
from workflow.process import ProcessDefinition


def step(key: str, kind: str, role: str, days: int, *after: str, **kw: Any) -> dict[str, Any]:
    return {
        "key": key,
        "kind": kind,
        "name": key,
        "role": role,
        "time_limit": days,
        "after": list(after),
        **kw,
    }


VILLAGE_TO_COUNTY = [
    step("accept", "受理", "clerk", 0, level=6),  # the village proxy point accepts …
    step(
        "check", "审核", "reviewer", 1, "accept", level=4, materials_checked=["身份证明"]
    ),  # … the county handles
    step("market", "审核", "reviewer", 2, "check"),  # two departments in parallel
    step("police", "审核", "reviewer", 3, "check", department_code="GA"),
    step("approve", "审批", "approver", 1, "market", "police"),  # join
    step("done", "办结", "clerk", 0, "approve"),
]


def definition(steps: list[dict[str, Any]]) -> ProcessDefinition:
    return ProcessDefinition.model_validate({"steps": steps})


def test_parallel_branches_and_forwarding_are_valid() -> None:
    d = definition(VILLAGE_TO_COUNTY)
    assert process.problems(d, content(promised_limit=5)) == []
    assert process.critical_path(d) == 5  # 0 + 1 + max(2, 3) + 1 + 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s[5].update(after=["approve", "done"]), "不能在自身之后"),
        (lambda s: s[1].update(after=["nowhere"]), "前序环节 nowhere 不存在"),
        (lambda s: s[0].update(after=["done"]), "循环"),
        (lambda s: s[5].update(kind="审批"), "结束环节"),
        (lambda s: s[2].update(after=[]), "起始环节"),
        (lambda s: s[2].update(level=6), "不能从4级转回更低的6级"),
        (lambda s: s[1].update(materials_checked=["房产证"]), "“房产证”不在该事项的申请材料中"),
        (lambda s: s[3].update(time_limit=9), "合计 11 个工作日，超过承诺时限 5"),
        (lambda s: s.append(dict(s[0])), "环节 accept 重复"),
    ],
)
def test_mistakes_are_named(change: Any, message: str) -> None:
    steps = [dict(s) for s in VILLAGE_TO_COUNTY]
    change(steps)
    found = process.problems(definition(steps), content(promised_limit=5))
    assert any(message in p for p in found), found


def test_template_follows_its_version(engine: sa.Engine) -> None:
    with Session(engine) as s:
        dept = s.exec(select(Department)).first()
        assert dept is not None
        item, v1 = catalog.create_item(
            s, "IMPL-P", "B", dept.unit_id, dept.id or 0, content(promised_limit=5)
        )
        bad = definition([*VILLAGE_TO_COUNTY[:-1], step("done", "审批", "clerk", 0, "approve")])
        with pytest.raises(InvalidInput, match="结束环节"):
            process.set_template(s, v1, bad)
        process.set_template(s, v1, definition(VILLAGE_TO_COUNTY))
        catalog.publish(s, v1, dt.date(2026, 1, 1), None)
        with pytest.raises(Conflict):
            process.set_template(s, v1, definition(VILLAGE_TO_COUNTY))
        v2 = catalog.new_draft(s, item.id or 0)
        process.copy_template(s, v1.id or 0, v2.id or 0)
        s.commit()
        t1, t2 = process.get_template(s, v1.id or 0), process.get_template(s, v2.id or 0)
        assert t1 is not None
        assert t2 is not None
        assert t1.id != t2.id
        assert t1.definition == t2.definition
