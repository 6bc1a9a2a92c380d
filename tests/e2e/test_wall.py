"""The monitoring wall end to end: 16 simulated ONVIF cameras on 4 real agent processes, the coordinator
process, Mosquitto, and the wall page in headless Chromium.

- with no viewer, the agents send no tiles (the coordinator's tile counter stays flat);
- the wall shows 16 live tiles, each named and showing its own camera's picture, and they update;
- SIGKILL of one agent: its 4 tiles show offline within 5 s, the others stay live;
- the page closed: tiles stop again.
"""

from __future__ import annotations

import asyncio
import re
import signal
import threading
import time
from collections.abc import Iterator
from functools import partial

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from simulators.onvif_camera import OnvifCameraOptions, OnvifCameraSim
from simulators.scene import camera_index_for_colour, probe_point
from tests.e2e.system import System
from tests.support import wait_until

AGENTS = 4
PER_AGENT = 4
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]  # fmt: skip

pytestmark = pytest.mark.slow


class Cameras:
    """16 simulated ONVIF cameras served from one event loop in one thread (5 fps, 640×360 substream)."""

    def __init__(self, count: int) -> None:
        self.sims = [
            OnvifCameraSim(OnvifCameraOptions(name=f"cam{i:02d}", index=i, fps=5.0, ptz=i % 4 == 0))
            for i in range(count)
        ]
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="onvif-sims", daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._all("start_async"), self.loop).result(60)

    async def _all(self, method: str) -> None:
        await asyncio.gather(*(getattr(s, method)() for s in self.sims))

    def port(self, i: int) -> int:
        match = re.search(r":(\d+)/", self.sims[i].device_url)
        assert match is not None
        return int(match.group(1))

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._all("stop_async"), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def cameras() -> Iterator[Cameras]:
    cams = Cameras(AGENTS * PER_AGENT)
    yield cams
    cams.close()


def tile_count(system: System) -> float:
    text = system.api("GET", "/metrics").text
    found = re.search(r'^hallmesh_ingest_messages_total\{kind="tile"\} (\S+)$', text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def telemetry_count(system: System) -> float:
    text = system.api("GET", "/metrics").text
    found = re.search(r'^hallmesh_ingest_messages_total\{kind="telemetry"\} (\S+)$', text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def quiet_period(system: System, rounds: int = 2) -> None:
    """Wait until every agent sent ``rounds`` more telemetry messages (1 s interval): time passes by events."""
    start = telemetry_count(system)
    wait_until(lambda: telemetry_count(system) >= start + rounds * AGENTS, 20, what="telemetry rounds")


def cameras_up(system: System, agent_id: str) -> bool:
    status = system.agent_status(agent_id) or {}
    devices = {d["device_id"]: d["status"] for d in status.get("devices", [])}
    return status.get("online", False) and len(devices) == PER_AGENT and set(devices.values()) == {"up"}


def probe_cell(page: Page, index: int) -> int:
    x, y = probe_point(640, 360)
    rgba = page.evaluate(
        """([i, x, y]) => Array.from(document.querySelectorAll('.cell canvas')[i]
              .getContext('2d').getImageData(x - 2, y - 2, 5, 5).data)""",
        [index, x, y],
    )
    pixels = [rgba[k : k + 3] for k in range(0, len(rgba), 4)]
    bgr = [sum(p[2 - c] for p in pixels) / len(pixels) for c in range(3)]
    return camera_index_for_colour(bgr)


def test_wall_with_16_cameras_on_4_agents(system: System, cameras: Cameras) -> None:
    system.extra_env["HALLMESH_WALL_OFFLINE_AFTER_S"] = "2.5"
    system.start_coordinator()
    agent_ids = [f"hall-{a}.w1" for a in range(AGENTS)]
    for a, agent_id in enumerate(agent_ids):
        devices = []
        for d in range(PER_AGENT):
            i = a * PER_AGENT + d
            devices += ["[[devices]]", f'id = "cam{i:02d}"', 'kind = "onvif"', 'host = "127.0.0.1"',
                        f"port = {cameras.port(i)}", 'password = "admin"', 'stream_protocol = "HTTP"',
                        "poll_interval_s = 2"]  # fmt: skip
        system.add_agent(agent_id, devices=0, keepalive_s=5, extra="\n".join(devices))
        system.start_agent(agent_id)
    for agent_id in agent_ids:
        wait_until(partial(cameras_up, system, agent_id), timeout=40, what=f"{agent_id} cameras up")

    # nobody watches: no tiles
    quiet_period(system)
    assert tile_count(system) == 0

    group = system.api("POST", "/api/v1/wall/groups", json={
        "name": "大厅", "cameras": [
            {"agent": agent_ids[i // PER_AGENT], "device": f"cam{i:02d}", "label": f"{i + 1}号窗口"}
            for i in range(AGENTS * PER_AGENT)
        ]})  # fmt: skip
    assert group.status_code == 201, group.text
    wall = system.api("POST", "/api/v1/wall/walls", json={
        "name": "区中心", "rows": 4, "cols": 4, "group_id": group.json()["id"]})  # fmt: skip
    assert wall.status_code == 201, wall.text

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 940})
        page.goto(f"{system.base_url}/wall/?wall={wall.json()['id']}#token={system.token}")
        cells = page.locator(".cell")
        expect(cells).to_have_count(16)
        for i in range(16):
            expect(cells.nth(i)).to_have_attribute("data-status", "online", timeout=30_000)
            expect(cells.nth(i).locator(".name")).to_have_text(f"{i + 1}号窗口")
        # live: every tile updates (≈1 fps each)
        page.wait_for_function(
            "[...document.querySelectorAll('.cell')].every(c => +c.dataset.frames >= 2)", timeout=30_000
        )
        assert [probe_cell(page, i) for i in range(16)] == list(range(16))  # each cell shows its own camera

        # one agent dies: its 4 cameras go offline within 5 s, the others stay live
        killed = agent_ids[1]
        system.signal_agent(killed, signal.SIGKILL)
        killed_at = time.monotonic()
        for i in range(PER_AGENT, 2 * PER_AGENT):
            expect(cells.nth(i)).to_have_attribute("data-status", "offline", timeout=5_000)
        assert time.monotonic() - killed_at < 5.0
        for i in (0, 8, 12):
            expect(cells.nth(i)).to_have_attribute("data-status", "online")
        frames = int(cells.nth(0).get_attribute("data-frames") or 0)
        page.wait_for_function(f"+document.querySelectorAll('.cell')[0].dataset.frames > {frames}")
        browser.close()

    # the viewer is gone: the demand is withdrawn and the tiles stop
    quiet_period(system, rounds=1)
    before = tile_count(system)
    quiet_period(system)
    assert tile_count(system) == before
