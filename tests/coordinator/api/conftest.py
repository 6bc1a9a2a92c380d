"""An app over a real database (no broker: the organisation and catalog routes need none) and a small world.

The world: the Ningxia tree; departments SCJG (市场监管) and GA (公安) in 兴庆区, SCJG in 西夏区 and 银川市;
a hall per county with windows; one staff member of every role in 兴庆区 SCJG; clerks, items and submitted
cases at each position a BOLA check needs (own unit, sibling county, parent city, other department).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlmodel import Session

from coordinator import db
from coordinator.app import create_app
from coordinator.runtime import Coordinator
from coordinator.security import Passwords
from coordinator.settings import Settings
from tests.support import free_port, wait_until
from workflow import case_engine, catalog, process
from workflow.cases import Case
from workflow.catalog import ItemContent, Material
from workflow.codes import Role
from workflow.org import Department, Hall, Window, unit_by_code
from workflow.seed import seed_ningxia
from workflow.staff import Staff, join_roles

TOKEN = "test-token-0123456789abcdef"
PASSWORD = "correct horse battery"
POSITIONS = ("own", "sibling", "parent", "other_dept")
UNITS = {
    "own": "640104000000",
    "sibling": "640105000000",
    "parent": "640100000000",
    "other_dept": "640104000000",
}
DEPTS = {"own": "SCJG", "sibling": "SCJG", "parent": "SCJG", "other_dept": "GA"}
_codes = itertools.count(1)


def make_settings(db_url: str, tmp_path: Path, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path, "database_url": db_url, "mqtt_ca": tmp_path / "ca.pem",
        "mqtt_cert": tmp_path / "c.pem", "mqtt_key": tmp_path / "c.key", "api_token": TOKEN,
        "jwt_secret": "j" * 64, "argon2_time_cost": 1, "argon2_memory_kib": 8, "argon2_parallelism": 1,
        **extra,
    }  # fmt: skip
    return Settings(**values)


def pk(row: Any) -> int:
    assert row.id is not None
    return int(row.id)


def content(name: str = "个体工商户设立登记", **kw: Any) -> ItemContent:
    base: dict[str, Any] = {
        "name": name, "item_type": "01", "level": 4, "statutory_limit": 15, "promised_limit": 3,
        "service_objects": ["1"], "materials": [Material(name="身份证明", originals=1, copies=1)],
    }  # fmt: skip
    return ItemContent(**{**base, **kw})


def simple_process() -> process.ProcessDefinition:
    """受理 → 审核 → 审批 → 办结, 3 working days in all."""
    steps = [
        {"key": "accept", "kind": "受理", "name": "受理", "role": "clerk", "time_limit": 0},
        {"key": "review", "kind": "审核", "name": "审核", "role": "reviewer", "time_limit": 1, "after": ["accept"],
         "materials_checked": ["身份证明"]},
        {"key": "approve", "kind": "审批", "name": "审批", "role": "approver", "time_limit": 2, "after": ["review"]},
        {"key": "done", "kind": "办结", "name": "办结", "role": "clerk", "time_limit": 0, "after": ["approve"]},
    ]  # fmt: skip
    return process.ProcessDefinition.model_validate({"steps": steps})


@dataclass
class Api:
    client: httpx.Client
    settings: Settings
    coordinator: Coordinator
    ids: dict[Any, Any] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def engine(self) -> Any:
        return self.coordinator.engine

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def login(self, employee_no: str, password: str = PASSWORD) -> httpx.Response:
        return self.client.post("/api/v1/auth/login", json={"employee_no": employee_no, "password": password})

    def token(self, employee_no: str) -> str:
        if employee_no not in self.tokens:
            r = self.login(employee_no)
            assert r.status_code == 200, r.text
            self.tokens[employee_no] = r.json()["access_token"]
        return self.tokens[employee_no]

    def as_(self, employee_no: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(employee_no)}"}

    def add_staff(self, employee_no: str, unit_code: str, dept: str | None, roles: list[Role]) -> int:
        with self.session() as s:
            unit = unit_by_code(s, unit_code)
            assert unit is not None
            dept_id = self.ids[("dept", unit_code, dept)] if dept else None
            hasher = Passwords.from_settings(self.settings)
            row = Staff(
                employee_no=employee_no, name=employee_no, unit_id=pk(unit), department_id=dept_id,
                roles=join_roles(roles), password_hash=hasher.hash(PASSWORD),
            )  # fmt: skip
            s.add(row)
            s.commit()
            assert row.id is not None
            return row.id


class Served:
    """``app`` under uvicorn on a free port in a thread, lifespan off (no ingest, no MQTT)."""

    def __init__(self, app: FastAPI) -> None:
        port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)
        self.thread.start()
        wait_until(lambda: self.server.started or not self.thread.is_alive(), 30, what="uvicorn started")
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)

    def close(self) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join(30)


def serve(settings: Settings, coordinator: Coordinator) -> Served:
    app = create_app(settings)
    app.state.coordinator = coordinator
    return Served(app)


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Iterator[Api]:
    settings = make_settings(db_url, tmp_path)
    engine = db.make_engine(db_url)
    db.migrate(engine)
    coordinator = Coordinator(settings, engine)
    served = serve(settings, coordinator)
    try:
        yield Api(served.client, settings, coordinator)
    finally:
        served.close()
        engine.dispose()


@pytest.fixture
def world(api: Api) -> Api:
    ids = api.ids
    with api.session() as s:
        seed_ningxia(s)
        for unit_code, dept in [
            ("640104000000", "SCJG"), ("640104000000", "GA"), ("640105000000", "SCJG"), ("640100000000", "SCJG"),
        ]:  # fmt: skip
            unit = unit_by_code(s, unit_code)
            assert unit is not None
            d = Department(unit_id=pk(unit), code=dept, name=dept)
            s.add(d)
            s.flush()
            ids[("dept", unit_code, dept)] = d.id
        for pos in POSITIONS:
            unit = unit_by_code(s, UNITS[pos])
            assert unit is not None
            ids[("unit", pos)] = unit.id
            dept_id = ids[("dept", UNITS[pos], DEPTS[pos])]
            ids[("dept", pos)] = dept_id
            hall = Hall(unit_id=pk(unit), name=f"{pos} 大厅")
            s.add(hall)
            s.flush()
            ids[("hall", pos)] = hall.id
            window = Window(
                hall_id=pk(hall), unit_id=pk(unit), department_id=dept_id, number="01", name="窗口"
            )
            s.add(window)
            s.flush()
            ids[("window", pos)] = window.id
            item, version = catalog.create_item(
                s, f"IMPL-{pos}", f"BASIC-{pos}", pk(unit), dept_id, content(f"{pos} 事项")
            )
            ids[("item", pos)] = item.id
            process.set_template(s, version, simple_process())
            ids[("version", pos)] = version.id
        s.commit()
    for pos in POSITIONS:
        ids[("staff", pos)] = api.add_staff(f"target-{pos}", UNITS[pos], DEPTS[pos], [Role.CLERK])
    for role in Role:
        ids[("actor", role)] = api.add_staff(f"actor-{role}", UNITS["own"], "SCJG", [role])
    ids["region_admin"] = api.add_staff("region-admin", "640000000000", None, [Role.CENTER_ADMIN])
    with api.session() as s:
        for pos in POSITIONS:
            case = Case(
                code=f"WORLD-{pos}", unit_id=ids[("unit", pos)], department_id=ids[("dept", pos)],
                window_id=ids[("window", pos)], item_version_id=ids[("version", pos)], title=f"{pos} 办件",
                opened_by=ids[("staff", pos)], opened_at=0.0,
            )  # fmt: skip
            case_engine.submit(s, case, ids[("staff", pos)], "clerk")
            ids[("case", pos)] = case.id
        s.commit()
    return api


def next_code() -> int:
    return next(_codes)
