"""Cases through the HTTP API of the BOLA world (tests/coordinator/api/conftest.py): accepted, then concluded."""

from __future__ import annotations

import itertools
from typing import Any

from tests.coordinator.api.conftest import Api
from workflow.cases import Material

_captures = itertools.count(1)


def publish_own(world: Api) -> int:
    version: int = world.ids[("version", "own")]
    r = world.client.post(f"/api/v1/catalog/versions/{version}/publish", headers=world.as_("actor-dept_admin"),
                          json={"valid_from": "2024-01-01"})  # fmt: skip
    assert r.status_code == 200, r.text
    return version


def case_through(world: Api, version: int, conclude: bool = True) -> int:
    c = world.client
    r = c.post("/api/v1/cases", headers=world.as_("actor-clerk"),
               json={"item_version_id": version, "applicant_name": "李四", "channel": "2"})  # fmt: skip
    assert r.status_code == 201, r.text
    case_id: int = r.json()["id"]

    def move(who: str, **kw: Any) -> None:
        r = c.post(f"/api/v1/cases/{case_id}/actions", headers=world.as_(who), json=kw)
        assert r.status_code == 200, r.text

    with world.session() as s:
        m = Material(case_id=case_id, kind="scan", sha256="b" * 64, size=1, media_type="application/pdf",
                     agent_id="pc", device_id="scanner", capture_id=f"cap-{next(_captures)}", captured_at=0.0,
                     filed_at=0.0)  # fmt: skip
        s.add(m)
        s.commit()
        material_id = m.id
    move("actor-clerk", action="assign_material", material_id=material_id, slot="身份证明")
    move("actor-clerk", action="accept")
    if conclude:
        move("actor-reviewer", action="decide", step="review", decision="approve")
        move("actor-approver", action="decide", step="approve", decision="approve")
        move("actor-clerk", action="decide", step="done", decision="approve")
    return case_id
