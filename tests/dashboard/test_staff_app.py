"""The staff web app (``/app/``) in headless Chromium against a real coordinator (uvicorn on 127.0.0.1, no broker,
no agent): sign-in and its refusal, the counter workstation without devices (offline window, no preview, the
checklist, a supplement request), the work queue's urgency colours, English, a phone-sized screen, item and
case text never run as HTML, and ``/api/v1/app/windows`` within scope. No request leaves 127.0.0.1.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlmodel import Session, select

from coordinator import db
from coordinator.runtime import Coordinator
from coordinator.security import Passwords
from hallmesh_cli.demo_org import DemoUser, seed_demo
from tests.coordinator.api.conftest import TOKEN, Served, make_settings, pk, serve
from workflow import case_engine, catalog, process
from workflow.cases import CaseTask
from workflow.catalog import ItemContent, Material
from workflow.codes import Role
from workflow.org import Department, Window, unit_by_code
from workflow.staff import Staff, join_roles

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]  # fmt: skip
XSS = "<img src=x onerror=window.__xss=1>"
AGENT = "yinchuan-xingqing-w01"
SIBLING_PASSWORD = "sibling-county-password"


@dataclass
class Site:
    served: Served
    users: dict[str, DemoUser]
    version_id: int
    window_id: int
    engine: sa.Engine

    def token(self, employee_no: str) -> dict[str, str]:
        user = self.users.get(employee_no)
        password = user.password if user else SIBLING_PASSWORD
        r = self.served.client.post(
            "/api/v1/auth/login", json={"employee_no": employee_no, "password": password}
        )
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _world(engine: sa.Engine) -> tuple[dict[str, DemoUser], int, int]:
    users = {u.employee_no: u for u in seed_demo(engine, [AGENT])}
    with Session(engine) as s:
        unit = unit_by_code(s, "640104000000")
        assert unit is not None
        dept = s.exec(
            select(Department).where(Department.unit_id == unit.id, Department.code == "SCJG")
        ).one()
        content = ItemContent(
            name=f"事项 {XSS}", item_type="01", level=4, statutory_limit=15, promised_limit=5, service_objects=["1"],
            materials=[Material(name=f"申请书 {XSS}", originals=1), Material(name="身份证明", copies=1)],
        )  # fmt: skip
        _, version = catalog.create_item(s, "11640104SCJG0098", "116401040098", pk(unit), pk(dept), content)
        steps = [
            {"key": "accept", "kind": "受理", "name": "受理", "role": "clerk", "time_limit": 0},
            {"key": "done", "kind": "办结", "name": "办结", "role": "approver", "time_limit": 2, "after": ["accept"]},
        ]  # fmt: skip
        process.set_template(s, version, process.ProcessDefinition.model_validate({"steps": steps}))
        catalog.publish(s, version, dt.date(2026, 1, 1), None)
        window = s.exec(select(Window).where(Window.agent_id == AGENT)).one()
        xixia = unit_by_code(
            s, "640105000000"
        )  # a sibling county: none of 兴庆区's windows are within its reach
        assert xixia is not None
        s.add(Staff(employee_no="xixia-clerk", name="西夏区受理员", unit_id=pk(xixia), roles=join_roles([Role.CLERK]),
                    password_hash=Passwords().hash(SIBLING_PASSWORD)))  # fmt: skip
        s.commit()
        return users, pk(version), pk(window)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("staff-app")
    url = f"sqlite:///{tmp / 'coordinator.db'}"
    settings = make_settings(url, tmp)
    engine = db.make_engine(url)
    db.migrate(engine)
    users, version_id, window_id = _world(engine)
    served = serve(settings, Coordinator(settings, engine))
    try:
        yield Site(served, users, version_id, window_id, engine)
    finally:
        served.close()
        engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser, site: Site) -> Iterator[Page]:
    context = browser.new_context(
        base_url=str(site.served.client.base_url), viewport={"width": 390, "height": 844}
    )
    context.set_default_timeout(10_000)
    pg = context.new_page()
    requests: list[str] = []
    pg.on("request", lambda r: requests.append(r.url))
    yield pg
    assert pg.evaluate("window.__xss") is None  # no text from the API ran as HTML
    context.close()
    assert requests, "the page made no requests"
    hosts = {urlsplit(u).hostname for u in requests if not u.startswith(("blob:", "data:"))}
    assert hosts == {"127.0.0.1"}, requests


def _sign_in(page: Page, user: DemoUser, password: str | None = None) -> None:
    page.goto("/app/")
    expect(page.locator("#login-view")).to_be_visible()
    page.fill("#employee-no", user.employee_no)
    page.fill("#password", password or user.password)
    page.click("#signin")


def test_sign_in_refused_then_counter_without_devices_and_a_supplement_request(
    page: Page, site: Site
) -> None:
    clerk = site.users["demo-clerk"]
    _sign_in(page, clerk, password="not-the-password")
    expect(page.locator("#login-error")).to_contain_text("工号或密码错误")
    expect(page.locator("#nav")).to_be_hidden()
    page.fill("#password", clerk.password)
    page.click("#signin")
    expect(page.locator("#me")).to_contain_text(clerk.name)
    expect(page.locator("#counter-view")).to_be_visible()
    # The token lives in sessionStorage only.
    assert page.evaluate("sessionStorage.getItem('hallmesh.staff.token')")
    assert page.evaluate("localStorage.getItem('hallmesh.staff.token')") is None

    expect(page.locator("#window-state")).to_contain_text("离线")  # no agent connected in this test
    expect(page.locator("#item option", has_text=XSS)).to_have_count(1)
    page.select_option("#item", label=f"事项 {XSS}")
    page.fill("#applicant", "李四")
    page.click("#create-case")
    expect(page.locator("#current")).to_be_visible()
    expect(page.locator("#cur-title")).to_have_text(f"事项 {XSS}")  # the item's name, as text
    expect(page.locator("#preview-none")).to_be_visible()  # no preview at an offline window
    expect(page.locator("#preview")).to_be_hidden()
    expect(page.locator("#slots li.missing")).to_have_count(2)
    expect(page.locator("#slots")).to_contain_text(f"申请书 {XSS}")
    expect(page.locator("#accept")).to_be_disabled()

    page.fill("#supplement-note", "请补充营业场所证明")
    page.click("#supplement")
    expect(page.locator("#cur-state")).to_have_text("待补正")
    expect(page.locator("#supplement")).to_be_enabled()

    # A device button at a window whose agent is not there: the refusal is shown, the page keeps working.
    page.click("#do-photo")
    expect(page.locator("#flash")).to_contain_text("操作失败")

    page.click("#lang")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#cur-state")).to_have_text("Supplements requested")
    page.click("#lang")
    page.click("#signout")
    expect(page.locator("#login-view")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('hallmesh.staff.token')") is None


def test_queue_colours_by_urgency(page: Page, site: Site) -> None:
    auth = site.token("demo-clerk")
    today = case_engine.china_date(time.time())  # the queue's flags count in China's days
    codes = {}
    for label, due in (
        ("red", today - dt.timedelta(days=10)),
        ("yellow", today),
        ("green", today + dt.timedelta(days=40)),
    ):
        r = site.served.client.post(
            "/api/v1/cases",
            json={
                "window_id": site.window_id,
                "item_version_id": site.version_id,
                "title": f"{label} 办件 {XSS}",
            },
            headers=auth,
        )
        assert r.status_code == 201, r.text
        case_id = r.json()["id"]
        codes[label] = r.json()["code"]
        with Session(site.engine) as s:
            for task in s.exec(select(CaseTask).where(CaseTask.case_id == case_id)):
                task.due = due
                s.add(task)
            s.commit()
    _sign_in(page, site.users["demo-clerk"])
    expect(page.locator("#counter-view")).to_be_visible()
    page.click("#nav-queue")
    expect(page.locator("#queue-view")).to_be_visible()
    for label, code in codes.items():
        row = page.locator("#queue tr", has_text=code)
        expect(row).to_have_class(f"flag-{label}")
        expect(row).to_contain_text(XSS)
    red = page.locator("#queue tr", has_text=codes["red"])
    expect(red).to_have_css("background-color", "rgb(253, 226, 224)")
    yellow = page.locator("#queue tr", has_text=codes["yellow"])
    expect(yellow).to_have_css("background-color", "rgb(255, 244, 194)")
    # Most urgent first.
    first = page.locator("#queue tr").first
    expect(first).to_contain_text(codes["red"])


def test_windows_within_scope_with_live_state_and_no_preview_without_an_agent(site: Site) -> None:
    http = site.served.client
    for who in ("demo-clerk", "demo-technician", "demo-admin"):
        r = http.get("/api/v1/app/windows", headers=site.token(who))
        assert r.status_code == 200, r.text
        (window,) = [w for w in r.json() if w["agent_id"] == AGENT]
        assert window["id"] == site.window_id
        assert window["online"] is False
        assert window["devices"] == []
    assert http.get("/api/v1/app/windows").status_code == 401
    assert http.get("/api/v1/app/windows", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 401
    r = http.post(f"/api/v1/app/windows/{site.window_id}/preview", headers=site.token("demo-clerk"))
    assert r.status_code == 404, r.text
    # Only counter roles ask a window's camera for its preview.
    r = http.post(f"/api/v1/app/windows/{site.window_id}/preview", headers=site.token("demo-reviewer"))
    assert r.status_code == 403, r.text
    # Device tests: technicians only; a window whose agent is not connected has no device to test.
    test = f"/api/v1/app/windows/{site.window_id}/devices/printer-1/test"
    assert http.post(test, headers=site.token("demo-clerk")).status_code == 403
    assert http.post(test, headers=site.token("demo-technician")).status_code == 404
    missing = http.post("/api/v1/app/windows/999999/preview", headers=site.token("demo-clerk"))
    assert missing.status_code == 404, missing.text
    # Out of reach: not listed, and the preview answers exactly like a window that does not exist.
    sibling = site.token("xixia-clerk")
    assert all(w["id"] != site.window_id for w in http.get("/api/v1/app/windows", headers=sibling).json())
    r = http.post(f"/api/v1/app/windows/{site.window_id}/preview", headers=sibling)
    assert r.status_code == 404, r.text
    assert r.json() == http.post("/api/v1/app/windows/999999/preview", headers=sibling).json()


def test_static_pages_carry_a_strict_policy(site: Site) -> None:
    body = site.served.client.get("/app/").text
    assert "default-src 'self'" in body
    assert "http://" not in body.replace("http://127.0.0.1:*", "")
    for asset in ("app.js", "app.css"):
        text = site.served.client.get(f"/app/{asset}").text
        assert "https://" not in text
        assert "innerHTML" not in text
