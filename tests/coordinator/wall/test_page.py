"""The browser wall page in headless Chromium against a running coordinator fed by a hand-driven agent."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from protocols import topics
from tests.coordinator.conftest import AUTH, TOKEN, Harness
from tests.coordinator.wall.helpers import CAMERAS, Configs, tile
from tests.support import wait_until

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield b
        b.close()


class Feeder:
    """Publishes a tile of each camera every 0.3 s (as an agent would) until stopped."""

    def __init__(self, sim: Any, cameras: list[int]) -> None:
        self.sim, self.cameras = sim, cameras
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        seq = 0
        while not self.stop.wait(0.3):
            seq += 1
            for i in self.cameras:
                self.sim.client.publish(topics.tile("agent-w", f"cam{i}"), tile(i, time.time(), seq), qos=0)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)


def test_wall_page_shows_live_named_tiles_goes_offline_enlarges_and_moves_ptz(
    harness: Harness, camera_agent: tuple[Any, Configs], browser: Browser
) -> None:
    sim, configs = camera_agent
    http = harness.client
    cams = [{"agent": "agent-w", "device": d.id, "label": f"{n}号窗口"} for n, d in enumerate(CAMERAS, 1)]
    group = http.post("/api/v1/wall/groups", json={"name": "g", "cameras": cams}, headers=AUTH).json()
    wall = http.post(
        "/api/v1/wall/walls",
        json={"name": "大厅", "rows": 2, "cols": 2, "group_id": group["id"]},
        headers=AUTH,
    ).json()
    feeder = Feeder(sim, [1, 2, 3, 4])
    page = browser.new_page(viewport={"width": 1280, "height": 760})
    try:
        page.goto(f"{http.base_url}/wall/?wall={wall['id']}#token={TOKEN}")
        expect(page.locator("#conn")).to_have_attribute("data-state", "open")
        cells = page.locator(".cell")
        expect(cells).to_have_count(4)
        for n in range(4):
            cell = cells.nth(n)
            expect(cell).to_have_attribute("data-status", "online")
            expect(cell.locator(".name")).to_have_text(f"{n + 1}号窗口")
            expect(cell.locator(".status")).to_have_text("在线")
        page.wait_for_function("[...document.querySelectorAll('.cell')].every(c => +c.dataset.frames >= 3)")
        configs.wait({"cam1": 1.0, "cam2": 1.0, "cam3": 1.0, "cam4": 1.0})
        # a camera whose tiles stop shows offline within seconds
        feeder.close()
        feeder = Feeder(sim, [1, 2, 3])
        expect(cells.nth(3)).to_have_attribute("data-status", "offline", timeout=6000)
        expect(cells.nth(3).locator(".status")).to_have_text("离线")
        expect(cells.nth(0)).to_have_attribute("data-status", "online")
        # enlarge camera 1 (it has PTZ): higher rate, PTZ buttons, a move and a stop command
        cells.nth(0).click()
        expect(page.locator("#zoom")).to_be_visible()
        expect(page.locator("#ptz")).to_be_visible()
        configs.wait({"cam1": 10.0, "cam2": 1.0, "cam3": 1.0, "cam4": 1.0})
        right = page.locator("[data-ptz='1,0,0']")
        right.dispatch_event("pointerdown")
        right.dispatch_event("pointerup")

        def actions() -> list[str]:
            rows = http.get("/api/v1/commands", params={"agent_id": "agent-w"}, headers=AUTH).json()["data"]
            return sorted(r["action"] for r in rows)

        wait_until(lambda: actions() == ["ptz_move", "ptz_stop"], 10, what="PTZ commands")
        page.locator("#zoom-close").click()
        expect(page.locator("#zoom")).to_be_hidden()
        cells.nth(1).click()
        expect(page.locator("#ptz")).to_be_hidden()  # camera 2 has no PTZ
        page.keyboard.press("Escape")
        page.locator("#lang").click()
        expect(page.locator("h1")).to_have_text("Monitoring wall")
        expect(cells.nth(0).locator(".status")).to_have_text("online")
    finally:
        feeder.close()
        page.close()
    configs.wait({})  # the page is gone: nobody watches
