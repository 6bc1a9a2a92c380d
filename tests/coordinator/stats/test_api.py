"""The stats API over HTTP: the listener counts the API's own moves; a county sees its subtree only (another
county's unit is a 404 like a missing one); rules and rebuild are for center admins."""

from __future__ import annotations

import pytest

from coordinator.stats import aggregate
from tests.coordinator.api.conftest import Api, api, world  # noqa: F401  (fixtures)
from tests.coordinator.stats.flow import case_through, publish_own


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_counts_scope_rules_and_rebuild(world: Api) -> None:  # noqa: F811
    world.coordinator.case_hooks.register(aggregate.on_case_event)
    version = publish_own(world)
    case_through(world, version)
    case_through(world, version, conclude=False)
    c = world.client
    own = c.get("/api/v1/stats/daily", headers=world.as_("actor-dept_admin")).json()
    assert (own["total"]["accepted"], own["total"]["concluded"], own["total"]["on_time"]) == (2, 1, 1)
    region = c.get("/api/v1/stats/daily", headers=world.as_("region-admin")).json()
    assert region["total"] == own["total"]
    sibling = c.get("/api/v1/stats/daily", headers=world.as_("target-sibling")).json()
    assert sibling["total"]["accepted"] == 0
    assert sibling["rows"] == []
    other_unit = c.get("/api/v1/stats/daily", params={"unit_id": world.ids[("unit", "own")]},
                       headers=world.as_("target-sibling"))  # fmt: skip
    assert other_unit.status_code == 404
    trend = c.get("/api/v1/stats/trend", headers=world.as_("actor-clerk")).json()
    assert len(trend["points"]) == 30
    assert trend["points"][-1]["accepted"] == 2
    assert c.get("/api/v1/stats/daily", headers=world.as_("actor-technician")).status_code == 403

    rules = {"honor_min_on_time_rate": 0.9, "honor_min_concluded": 1, "exposure_min_overdue": 2,
             "exposure_min_red_cards": 1}  # fmt: skip
    assert c.put("/api/v1/stats/rules", json=rules, headers=world.as_("actor-dept_admin")).status_code == 403
    r = c.put("/api/v1/stats/rules", json=rules, headers=world.as_("region-admin"))
    assert r.status_code == 200, r.text
    honor = c.get("/api/v1/stats/honor", headers=world.as_("actor-clerk")).json()
    assert [u["unit_id"] for u in honor["rows"]] == [world.ids[("unit", "own")]]
    assert c.get("/api/v1/stats/exposure", headers=world.as_("actor-clerk")).json()["rows"] == []

    assert c.post("/api/v1/stats/rebuild", headers=world.as_("actor-clerk")).status_code == 403
    r = c.post("/api/v1/stats/rebuild", headers=world.as_("region-admin"))
    assert r.status_code == 200, r.text
    assert r.json()["rows"] == 1
    again = c.get("/api/v1/stats/daily", headers=world.as_("actor-dept_admin")).json()
    assert again == own
