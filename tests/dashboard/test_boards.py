"""The stats boards page in headless Chromium against a real coordinator (uvicorn on 127.0.0.1): sign in, the
day's counts and the per-unit table, the honor roll following a rule change, an update after a new case
concludes (awaited through the page's own refresh), English, the SVG trend; no request leaves 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from coordinator.stats import aggregate
from tests.coordinator.api.conftest import PASSWORD, Api, api, world  # noqa: F401  (fixtures)
from tests.coordinator.stats.flow import case_through, publish_own

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]  # fmt: skip


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_boards_render_the_days_counts_and_follow_new_conclusions(world: Api, browser: Browser) -> None:  # noqa: F811
    world.coordinator.case_hooks.register(aggregate.on_case_event)
    version = publish_own(world)
    case_through(world, version)
    context = browser.new_context(base_url=str(world.client.base_url), viewport={"width": 390, "height": 844})
    pg = context.new_page()
    requests: list[str] = []
    pg.on("request", lambda r: requests.append(r.url))
    try:
        pg.goto("/boards/?refresh=1")
        expect(pg.locator("html")).to_have_attribute("lang", "zh-CN")
        pg.fill("#employee-no", "actor-dept_admin")
        pg.fill("#password", PASSWORD)
        pg.click("#sign-in")
        expect(pg.locator("#total-accepted")).to_have_text("1")
        expect(pg.locator("#total-concluded")).to_have_text("1")
        row = pg.locator("#daily tbody tr")
        expect(row).to_have_count(1)
        expect(row.first).to_contain_text("兴庆区")
        expect(row.first.locator(".rate")).to_have_text("100.0%")
        expect(pg.locator("#honor li.empty")).to_have_text("暂无")  # default rule: at least 10 concluded
        expect(pg.locator("#trend svg path.series-concluded")).to_have_count(1)

        rules = {"honor_min_on_time_rate": 0.98, "honor_min_concluded": 1, "exposure_min_overdue": 3,
                 "exposure_min_red_cards": 1}  # fmt: skip
        r = world.client.put("/api/v1/stats/rules", json=rules, headers=world.as_("region-admin"))
        assert r.status_code == 200, r.text
        expect(pg.locator("#honor li")).to_contain_text("兴庆区", timeout=10_000)

        case_through(world, version)
        case_through(world, version, conclude=False)
        expect(pg.locator("#total-concluded")).to_have_text("2", timeout=10_000)
        expect(pg.locator("#total-accepted")).to_have_text("3")
        expect(pg.locator("#exposure li.empty")).to_be_visible()

        pg.click("#lang")
        expect(pg.locator("html")).to_have_attribute("lang", "en")
        expect(pg.get_by_role("heading", name="Honor roll")).to_be_visible()
        expect(pg.locator("#honor li")).to_contain_text("100.0% on time (2)")
    finally:
        context.close()
    assert {urlsplit(u).hostname for u in requests} == {"127.0.0.1"}, requests
