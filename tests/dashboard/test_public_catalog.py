"""The public catalog pages in headless Chromium against a real coordinator (uvicorn on 127.0.0.1).

Search by part of the name, filter by level, open an item and read its materials, time limits and steps,
switch to English; item text is never run as HTML; no request leaves 127.0.0.1.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlmodel import Session

from coordinator import db
from coordinator.runtime import Coordinator
from tests.coordinator.api.conftest import Served, content, make_settings, pk, serve, simple_process
from workflow import catalog, process
from workflow.catalog import Material
from workflow.org import Department, unit_by_code
from workflow.seed import seed_ningxia

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]  # fmt: skip
XSS = "<img src=x onerror=window.__xss=1>"


def _world(session: Session) -> dict[str, int]:
    seed_ningxia(session)
    today = dt.date.today()
    ids: dict[str, int] = {}
    depts: dict[str, int] = {}
    for code, dept in [("640104000000", "SCJG"), ("640100000000", "SCJG"), ("640104000000", "GA")]:
        unit = unit_by_code(session, code)
        assert unit is not None
        d = Department(unit_id=pk(unit), code=dept, name="市场监督管理局" if dept == "SCJG" else "公安局")
        session.add(d)
        session.flush()
        depts[code + dept] = pk(d)
    materials = [
        Material(name="个体工商户登记申请书", originals=1, copies=0, blank_form="/forms/申请书.docx"),
        Material(name="身份证明", issuer="公安机关", originals=1, copies=1, required=False),
    ]
    items = [
        ("county", "640104000000SCJG", content("个体工商户设立登记", materials=materials, fee=""), today),
        ("city", "640100000000SCJG", content("食品经营许可（市级）", level=3), today),
        (
            "xss",
            "640104000000GA",
            content(XSS, conditions=f"条件 {XSS}", materials=[Material(name=XSS)]),
            today,
        ),
        ("future", "640104000000SCJG", content("下月才生效的事项"), today + dt.timedelta(days=30)),
        ("draft", "640104000000SCJG", content("只有草稿的事项"), None),
    ]
    for n, (key, place, body, start) in enumerate(items):
        unit = unit_by_code(session, place[:12])
        assert unit is not None
        item, version = catalog.create_item(session, f"IMPL{n:04d}", f"B{n}", pk(unit), depts[place], body)
        if key == "county":
            process.set_template(session, version, simple_process())
        if start is not None:
            catalog.publish(session, version, start, None)
        ids[key] = pk(item)
    session.commit()
    return ids


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, dict[str, int]]]:
    tmp = tmp_path_factory.mktemp("public")
    url = f"sqlite:///{tmp / 'coordinator.db'}"
    settings = make_settings(url, tmp)
    engine = db.make_engine(url)
    db.migrate(engine)
    with Session(engine) as s:
        ids = _world(s)
    served = serve(settings, Coordinator(settings, engine))
    try:
        yield served, ids
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
def page(browser: Browser, site: tuple[Served, dict[str, int]]) -> Iterator[tuple[Page, list[str]]]:
    context = browser.new_context(
        base_url=str(site[0].client.base_url), viewport={"width": 390, "height": 844}
    )
    pg = context.new_page()
    requests: list[str] = []
    pg.on("request", lambda r: requests.append(r.url))
    yield pg, requests
    context.close()
    assert requests, "the page made no requests"
    assert {urlsplit(u).hostname for u in requests} == {"127.0.0.1"}, requests


def test_search_filter_open_item_and_switch_language(page: tuple[Page, list[str]]) -> None:
    pg, _ = page
    pg.goto("/public/")
    expect(pg.locator("html")).to_have_attribute("lang", "zh-CN")
    results = pg.locator("#results > li")
    expect(results).to_have_count(3)  # published and valid today: not the draft, not next month's
    pg.fill("#q", "工商户")
    pg.click("#go")
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text("个体工商户设立登记")
    expect(results.first).to_contain_text("兴庆区")

    pg.fill("#q", "")
    pg.select_option("#level", "3")
    pg.click("#go")
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text("食品经营许可（市级）")
    pg.select_option("#level", "")
    pg.select_option("#department", "GA")
    pg.click("#go")
    expect(results).to_have_count(1)
    pg.select_option("#department", "")
    pg.select_option("#item-type", "20")
    pg.click("#go")
    expect(pg.locator("#status")).to_have_text("没有找到符合条件的事项")

    pg.select_option("#item-type", "")
    pg.fill("#q", "个体")
    pg.click("#go")
    pg.click("#results a")
    expect(pg.locator("#item-name")).to_have_text("个体工商户设立登记")
    materials = pg.locator("#materials > li")
    expect(materials).to_have_count(2)
    expect(materials.first).to_contain_text("个体工商户登记申请书")
    expect(materials.first).to_contain_text("原件 1 份")
    expect(materials.first.locator("a")).to_have_attribute("href", "/forms/申请书.docx")
    expect(materials.nth(1)).to_contain_text("非必要")
    expect(pg.locator("[data-limit=statutory]")).to_contain_text("15 个工作日")
    expect(pg.locator("[data-limit=promised]")).to_contain_text("3 个工作日")
    expect(pg.locator("[data-section=fees]")).to_contain_text("不收费")
    expect(pg.locator("#steps > li")).to_have_count(4)
    expect(pg.locator("#steps > li").nth(2)).to_contain_text("2 个工作日")
    expect(pg.locator("#item")).not_to_contain_text("null")
    expect(pg.locator("#item")).not_to_contain_text("undefined")

    pg.click("#lang")
    expect(pg.locator("html")).to_have_attribute("lang", "en")
    expect(pg.locator("[data-section=materials] h2")).to_have_text("Materials")
    expect(pg.locator("[data-limit=promised]")).to_contain_text("3 working days")
    expect(pg.locator("[data-section=fees]")).to_contain_text("Free of charge")
    expect(pg.locator("#lang")).to_have_text("中文")
    pg.click("#back")
    expect(pg.locator("#go")).to_have_text("Search")
    pg.reload()  # the choice is remembered
    expect(pg.locator("#search-heading")).to_have_text("Find a service")
    pg.click("#lang")
    expect(pg.locator("#search-heading")).to_have_text("查找办事事项")


def test_item_text_is_never_run_as_html(
    page: tuple[Page, list[str]], site: tuple[Served, dict[str, int]]
) -> None:
    pg, _ = page
    pg.goto("/public/#/search?q=%3Cimg")
    results = pg.locator("#results > li")
    expect(results).to_have_count(1)
    expect(results.first.locator("a")).to_have_text(XSS)
    pg.click("#results a")
    expect(pg.locator("#item-name")).to_have_text(XSS)
    expect(pg.locator("#materials > li").first).to_contain_text(XSS)
    expect(pg.locator("[data-section=conditions]")).to_contain_text(f"条件 {XSS}")
    assert pg.locator("main img").count() == 0
    assert pg.evaluate("window.__xss") is None

    pg.goto(f"/public/#/item/{site[1]['draft']}")
    expect(pg.locator("#item-error")).to_have_text("事项不存在或当前没有有效版本")


def test_no_staff_or_personal_data_in_the_public_api(site: tuple[Served, dict[str, int]]) -> None:
    served, ids = site
    detail = served.client.get(f"/api/public/v1/items/{ids['county']}").json()
    assert [s["name"] for s in detail["steps"]] == ["受理", "审核", "审批", "办结"]
    assert detail["critical_path_days"] == 3
    assert not {"role", "staff", "employee_no", "criteria"} & {k for s in detail["steps"] for k in s}
    assert served.client.get(f"/api/public/v1/items/{ids['future']}").status_code == 404
    depts = served.client.get("/api/public/v1/departments").json()
    assert depts == [{"code": "GA", "name": "公安局"}, {"code": "SCJG", "name": "市场监督管理局"}]
    typed = served.client.get("/api/public/v1/items", params={"item_type": "01"}).json()
    assert typed["count"] == 3
    assert served.client.get("/api/public/v1/items", params={"item_type": "99"}).status_code == 422
    r = served.client.get("/public/")
    assert r.status_code == 200
    assert "Content-Security-Policy" in r.text
