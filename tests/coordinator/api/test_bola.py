"""BOLA matrix: every endpoint that takes an id × every role × (own unit, sibling county, parent city, other
department) → allowed exactly where the scope and the role allow; a denial by scope is a 404 identical to the
answer for an id that does not exist; a denial by role is a 403 that does not depend on the id.
Also: lists show exactly the visible rows, a regional center admin reaches everything, mass assignment → 422.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.coordinator.api.conftest import POSITIONS, Api, content, simple_process
from workflow.codes import Role
from workflow.scope import PERMISSIONS, Action

MISSING = 987_654
_n = itertools.count(100)
UNBOUND = {Role.CENTER_ADMIN, Role.SUPERVISOR}


def _content() -> dict[str, Any]:
    return content("改过的事项").model_dump(mode="json")


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # "{id}" is the target's id; create endpoints carry it in the body instead
    kind: str  # unit, dept, hall, window, staff, item, version
    action: Action
    body: Callable[[Api, int, str], dict[str, Any] | None] = lambda _api, _id, _pos: None

    def call(self, api: Api, employee_no: str, target: int, pos: str) -> Any:
        url = self.path.replace("{id}", str(target))
        return api.client.request(
            self.method, url, headers=api.as_(employee_no), json=self.body(api, target, pos)
        )


def _staff_body(api: Api, target: int, pos: str) -> dict[str, Any]:
    return {
        "employee_no": f"new-{next(_n)}", "name": "新人", "unit_id": api.ids[("unit", pos)], "department_id": target,
        "roles": ["clerk"], "password": "a new password",
    }  # fmt: skip


def _item_body(api: Api, target: int, pos: str) -> dict[str, Any]:
    return {
        "implementation_code": f"NEW-{next(_n)}", "basic_code": "B-1", "unit_id": api.ids[("unit", pos)],
        "department_id": target, "content": _content(),
    }  # fmt: skip


ENDPOINTS = [
    Endpoint("GET", "/api/v1/org/units/{id}", "unit", Action.ORG_READ),
    Endpoint("GET", "/api/v1/org/departments/{id}", "dept", Action.ORG_READ),
    Endpoint("GET", "/api/v1/org/halls/{id}", "hall", Action.ORG_READ),
    Endpoint("GET", "/api/v1/org/windows/{id}", "window", Action.ORG_READ),
    Endpoint("PUT", "/api/v1/org/windows/{id}/agent", "window", Action.WINDOW_BIND, lambda *_: {"agent_id": None}),
    Endpoint(
        "POST", "/api/v1/org/units", "unit", Action.ORG_WRITE,
        lambda _a, t, _p: {"code": f"6401{next(_n):08d}", "name": "新单位", "parent_id": t},
    ),
    Endpoint(
        "POST", "/api/v1/org/departments", "unit", Action.ORG_WRITE,
        lambda _a, t, _p: {"unit_id": t, "code": f"D{next(_n)}", "name": "新部门"},
    ),
    Endpoint("POST", "/api/v1/org/halls", "unit", Action.ORG_WRITE, lambda _a, t, _p: {"unit_id": t, "name": "厅"}),
    Endpoint(
        "POST", "/api/v1/org/windows", "hall", Action.ORG_WRITE,
        lambda _a, t, _p: {"hall_id": t, "number": str(next(_n)), "name": "窗口"},
    ),
    Endpoint("GET", "/api/v1/staff/{id}", "staff", Action.STAFF_READ),
    Endpoint("PATCH", "/api/v1/staff/{id}", "staff", Action.STAFF_WRITE, lambda *_: {"name": "改名"}),
    Endpoint("POST", "/api/v1/staff/{id}/unlock", "staff", Action.STAFF_WRITE),
    Endpoint("POST", "/api/v1/staff/{id}/revoke-tokens", "staff", Action.STAFF_WRITE),
    Endpoint(
        "PUT", "/api/v1/staff/{id}/password", "staff", Action.STAFF_WRITE, lambda *_: {"password": "reset password 1"}
    ),
    Endpoint("POST", "/api/v1/staff", "dept", Action.STAFF_WRITE, _staff_body),
    Endpoint("GET", "/api/v1/catalog/items/{id}", "item", Action.CATALOG_READ),
    Endpoint("POST", "/api/v1/catalog/items/{id}/versions", "item", Action.CATALOG_WRITE, lambda *_: {}),
    Endpoint("POST", "/api/v1/catalog/items", "dept", Action.CATALOG_WRITE, _item_body),
    Endpoint("GET", "/api/v1/catalog/versions/{id}", "version", Action.CATALOG_READ),
    Endpoint("PUT", "/api/v1/catalog/versions/{id}", "version", Action.CATALOG_WRITE, lambda *_: _content()),
    Endpoint("GET", "/api/v1/catalog/versions/{id}/process", "version", Action.CATALOG_READ),
    Endpoint(
        "PUT", "/api/v1/catalog/versions/{id}/process", "version", Action.CATALOG_WRITE,
        lambda *_: simple_process().model_dump(mode="json"),
    ),
    Endpoint(
        "POST", "/api/v1/catalog/versions/{id}/publish", "version", Action.CATALOG_WRITE,
        lambda *_: {"valid_from": "2026-01-01"},
    ),
    Endpoint(
        "POST", "/api/v1/catalog/versions/{id}/close", "version", Action.CATALOG_WRITE,
        lambda *_: {"valid_to": "2030-01-01"},
    ),
    Endpoint("GET", "/api/v1/cases/{id}", "case", Action.CASE_READ),
    Endpoint("GET", "/api/v1/cases/{id}/detail", "case", Action.CASE_READ),
    Endpoint("GET", "/api/v1/cases/{id}/audit", "case", Action.AUDIT_VERIFY),
    Endpoint("POST", "/api/v1/cases/{id}/current", "case", Action.CASE_HANDLE),
    Endpoint("POST", "/api/v1/cases/{id}/actions", "case", Action.CASE_HANDLE, lambda *_: {"action": "precheck"}),
    Endpoint(
        "POST", "/api/v1/cases/{id}/actions", "case", Action.CASE_DECIDE,
        lambda *_: {"action": "decide", "step": "review", "decision": "approve"},
    ),
    Endpoint(
        "POST", "/api/v1/cases/{id}/actions", "case", Action.CASE_EXTEND,
        lambda *_: {"action": "extend", "days": 1, "opinion": "复杂"},
    ),
    Endpoint("POST", "/api/v1/cases/{id}/actions", "case", Action.CASE_VOID, lambda *_: {"action": "void", "opinion": "重复"}),
    Endpoint("POST", "/api/v1/cases/{id}/materials", "case", Action.CASE_HANDLE),  # no file: 415 when allowed
    Endpoint("POST", "/api/v1/cases/{id}/close", "case", Action.CASE_HANDLE),
]  # fmt: skip

DEVICE_ROUTES = {
    ("POST", "/api/v1/cases/{case_id}/captures"), ("POST", "/api/v1/cases/{case_id}/print"),
    ("GET", "/api/v1/cases/{case_id}/materials/{material_id}/content"),
    ("POST", "/api/v1/cases/{case_id}/materials/{material_id}/file"),
}  # fmt: skip
"""Counter-device routes: they need a live agent or a stored blob (not in this world); the case id in them goes
through the same ``Scope.get`` as the routes above."""


def visible(role: Role, kind: str, pos: str) -> bool:
    if pos == "own":
        return True
    if pos in ("sibling", "parent"):
        return False
    return kind in ("unit", "hall") or role in UNBOUND  # other department, same unit


def test_every_endpoint_that_takes_an_id_is_covered(world: Api) -> None:
    spec = world.client.get("/openapi.json").json()["paths"]
    ours = (
        "/api/v1/org",
        "/api/v1/staff",
        "/api/v1/catalog/items",
        "/api/v1/catalog/versions",
        "/api/v1/cases",
    )
    with_id = {(m.upper(), p) for p, ops in spec.items() for m in ops if p.startswith(ours) and "{" in p}
    with_id -= DEVICE_ROUTES
    covered = {(e.method, e.path.replace("{id}", "")) for e in ENDPOINTS}
    for method, path in with_id:
        generic = path.split("{")[0] + path.split("}")[1] if "}" in path else path
        assert (method, generic) in covered, f"{method} {path} is not in the BOLA matrix"


def test_bola_matrix(world: Api) -> None:
    failures: list[str] = []
    for role, endpoint in itertools.product(Role, ENDPOINTS):
        actor = f"actor-{role}"
        for pos in POSITIONS:
            target = world.ids[(endpoint.kind, pos)]
            r = endpoint.call(world, actor, target, pos)
            allowed_by_role = role in PERMISSIONS[endpoint.action]
            where = f"{role} {endpoint.method} {endpoint.path} {pos}"
            if not allowed_by_role:
                if r.status_code != 403:
                    failures.append(f"{where}: {r.status_code}, expected 403")
            elif not visible(role, endpoint.kind, pos):
                missing = endpoint.call(world, actor, MISSING, pos)
                if r.status_code != 404 or r.json() != missing.json():
                    failures.append(f"{where}: {r.status_code} {r.text}, expected 404 like {missing.text}")
            elif r.status_code in (401, 403, 404) or r.status_code >= 500:
                failures.append(f"{where}: {r.status_code} {r.text}, expected to be allowed")
    assert not failures, "\n".join(failures)


def test_regional_center_admin_reaches_every_position(world: Api) -> None:
    for endpoint in ENDPOINTS:
        if Role.CENTER_ADMIN not in PERMISSIONS[endpoint.action]:  # e.g. deciding a step: not an admin's job
            continue
        for pos in POSITIONS:
            r = endpoint.call(world, "region-admin", world.ids[(endpoint.kind, pos)], pos)
            assert r.status_code not in (401, 403, 404), f"{endpoint.method} {endpoint.path} {pos}: {r.text}"


def test_lists_show_exactly_the_visible_rows(world: Api) -> None:
    for role in (Role.CLERK, Role.DEPT_ADMIN, Role.SUPERVISOR, Role.CENTER_ADMIN):
        auth = world.as_(f"actor-{role}")
        items = world.client.get("/api/v1/catalog/items", headers=auth).json()["data"]
        expected = {world.ids[("item", p)] for p in POSITIONS if visible(role, "item", p)}
        assert {i["id"] for i in items} == expected, role
        if role in PERMISSIONS[Action.STAFF_READ]:
            staff = world.client.get("/api/v1/staff", headers=auth).json()["data"]
            targets = {s["id"] for s in staff if s["employee_no"].startswith("target-")}
            assert targets == {world.ids[("staff", p)] for p in POSITIONS if visible(role, "staff", p)}, role
        units = {u["id"] for u in world.client.get("/api/v1/org/units", headers=auth).json()}
        assert units == {world.ids[("unit", "own")]}, role
    region = world.client.get("/api/v1/org/units", headers=world.as_("region-admin")).json()
    assert len(region) == 28  # the region, 5 cities, 22 counties and districts


def test_mass_assignment_is_refused(world: Api) -> None:
    admin = world.as_("actor-dept_admin")
    clerk = world.ids[("staff", "own")]
    for body in ({"unit_id": world.ids[("unit", "parent")]}, {"status": "active"}, {"department_id": 1},
                 {"token_version": 0}, {"employee_no": "x"}, {"failed_logins": 0}):  # fmt: skip
        r = world.client.patch(f"/api/v1/staff/{clerk}", headers=admin, json=body)
        assert r.status_code == 422, body
    r = world.client.patch(f"/api/v1/staff/{clerk}", headers=admin, json={"roles": ["center_admin"]})
    assert r.status_code == 403
    create = {
        "employee_no": "mass-1", "name": "n", "unit_id": world.ids[("unit", "own")],
        "department_id": world.ids[("dept", "own")], "roles": ["clerk"], "password": "a good password",
    }  # fmt: skip
    for extra in ({"status": "active"}, {"token_version": 9}, {"password_hash": "x"}):
        assert world.client.post("/api/v1/staff", headers=admin, json={**create, **extra}).status_code == 422
    assert (
        world.client.post(
            "/api/v1/staff", headers=admin, json={**create, "roles": ["dept_admin"]}
        ).status_code
        == 403
    )
    version = world.ids[("version", "own")]
    r = world.client.put(
        f"/api/v1/catalog/versions/{version}", headers=admin, json={**_content(), "status": "published"}
    )
    assert r.status_code == 422
    r = world.client.post(
        f"/api/v1/catalog/versions/{version}/publish", headers=admin,
        json={"valid_from": "2026-01-01", "status": "draft", "item_id": 1},
    )  # fmt: skip
    assert r.status_code == 422
    assert world.client.get(f"/api/v1/catalog/versions/{version}", headers=admin).json()["status"] == "draft"
