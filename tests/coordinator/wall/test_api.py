"""The wall against a running coordinator and a real broker: CRUD, a viewer's WebSocket, demand, panels."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
import pytest
from websockets.sync.client import ClientConnection, connect

from protocols import topics
from simulators.scene import camera_index_for_colour, probe_point
from tests.coordinator.agent_sim import AgentSim
from tests.coordinator.conftest import AUTH, TOKEN, Harness
from tests.coordinator.wall.helpers import Configs, tile


def ws_url(harness: Harness, token: str = TOKEN) -> str:
    return f"{str(harness.client.base_url).replace('http', 'ws')}/api/v1/wall/ws?token={token}"


def recv_until(ws: ClientConnection, pred: Callable[[Any], bool], what: str) -> Any:
    while True:
        msg = ws.recv(timeout=10)
        item = json.loads(msg) if isinstance(msg, str) else msg
        if pred(item):
            return item


def test_crud_validation_and_auth(harness: Harness) -> None:
    http = harness.client
    assert http.get("/api/v1/wall/walls").status_code == 401
    cams = [{"agent": "agent-w", "device": f"cam{i}", "label": f"窗口{i}"} for i in range(1, 5)]
    g1 = http.post("/api/v1/wall/groups", json={"name": "大厅", "cameras": cams}, headers=AUTH).json()
    g2 = http.post("/api/v1/wall/groups", json={"name": "二楼", "cameras": cams[:1]}, headers=AUTH).json()
    assert http.post("/api/v1/wall/groups", json={"name": "大厅"}, headers=AUTH).status_code == 422
    tour = http.post(
        "/api/v1/wall/tours",
        json={"name": "巡视", "group_ids": [g1["id"], g2["id"]], "dwell_s": 10},
        headers=AUTH,
    ).json()
    bad = {
        "name": "w",
        "rows": 2,
        "cols": 2,
        "spans": [{"row": 0, "col": 0, "rowspan": 2}, {"row": 1, "col": 0}],
    }
    r = http.post("/api/v1/wall/walls", json=bad, headers=AUTH)
    assert r.status_code == 422
    assert "overlaps" in r.text
    assert (
        http.post("/api/v1/wall/walls", json={"name": "w", "rows": 9, "cols": 1}, headers=AUTH).status_code
        == 422
    )
    spec = {"name": "主屏", "rows": 3, "cols": 3, "spans": [{"row": 0, "col": 0, "rowspan": 2, "colspan": 2}],
            "group_id": g1["id"], "panel_rows": 3, "panel_cols": 3}  # fmt: skip
    wall = http.post("/api/v1/wall/walls", json=spec, headers=AUTH).json()
    layout = http.get(f"/api/v1/wall/walls/{wall['id']}/layout", headers=AUTH).json()
    assert len(layout["cells"]) == 6
    assert layout["cells"][0] == {"x": 0, "y": 0, "w": pytest.approx(2 / 3), "h": pytest.approx(2 / 3)}
    assert [c["label"] for c in layout["groups"][0]] == ["窗口1", "窗口2", "窗口3", "窗口4"]
    assert layout["dwell_s"] is None
    r = http.put(
        f"/api/v1/wall/walls/{wall['id']}",
        json={**spec, "group_id": None, "tour_id": tour["id"]},
        headers=AUTH,
    )
    assert r.status_code == 200
    layout = http.get(f"/api/v1/wall/walls/{wall['id']}/layout", headers=AUTH).json()
    assert (layout["dwell_s"], len(layout["groups"])) == (10, 2)
    assert http.delete(f"/api/v1/wall/groups/{g2['id']}", headers=AUTH).status_code == 204
    assert http.get(f"/api/v1/wall/tours/{tour['id']}", headers=AUTH).json()["group_ids"] == [g1["id"]]
    assert http.get("/api/v1/wall/walls", headers=AUTH).json()["count"] == 1
    assert http.delete(f"/api/v1/wall/walls/{wall['id']}", headers=AUTH).status_code == 204
    assert http.get(f"/api/v1/wall/walls/{wall['id']}", headers=AUTH).status_code == 404
    page = http.get("/wall/")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]


def test_viewer_gets_latest_tiles_status_and_drives_the_demand(
    harness: Harness, camera_agent: tuple[AgentSim, Configs]
) -> None:
    sim, configs = camera_agent
    configs.wait({})  # the coordinator clears leftovers of agents it sees online
    with (
        pytest.raises(Exception, match=r"1008|policy|403|rejected"),
        connect(ws_url(harness, "wrong-token-0123456789"), open_timeout=5) as bad,
    ):
        bad.recv(timeout=5)
    with connect(ws_url(harness), open_timeout=5) as ws:
        ws.send(
            json.dumps(
                {"type": "subscribe", "cameras": [{"id": "agent-w/cam1", "label": "一号"}, "agent-w/cam2"]}
            )
        )
        listing = recv_until(ws, lambda m: isinstance(m, dict) and m["type"] == "cameras", "camera list")
        assert [(c["index"], c["name"], c["ptz"], c["status"]) for c in listing["cameras"]] == [
            (0, "一号", True, "offline"), (1, "cam2", False, "offline")
        ]  # fmt: skip
        assert listing["cameras"][0]["service_point"] == "agent-w"
        configs.wait({"cam1": 1.0, "cam2": 1.0})
        sim.send_raw(topics.tile("agent-w", "cam2"), tile(2, 1_800_000_000.5))
        frame = recv_until(ws, lambda m: isinstance(m, bytes), "a tile")
        index, ts_ms = struct.unpack(">HQ", frame[:10])
        assert (index, ts_ms) == (1, 1_800_000_000_500)
        img: Any = cv2.imdecode(np.frombuffer(frame[10:], np.uint8), cv2.IMREAD_COLOR)
        assert camera_index_for_colour(img[probe_point(640, 360)[::-1]]) == 2
        recv_until(
            ws, lambda m: isinstance(m, dict) and m.get("status") == "online" and m["index"] == 1, "online"
        )
        ws.send(json.dumps({"type": "enlarge", "index": 0}))
        configs.wait({"cam1": 10.0, "cam2": 1.0})
        ws.send(json.dumps({"type": "enlarge", "index": None}))
        configs.wait({"cam1": 1.0, "cam2": 1.0})
        # no tile for longer than wall_offline_after_s: offline
        recv_until(
            ws, lambda m: isinstance(m, dict) and m.get("status") == "offline" and m["index"] == 1, "offline"
        )
        metrics = harness.client.get("/metrics").text
        assert "hallmesh_wall_viewers 1.0" in metrics
        assert "hallmesh_wall_tiles_received_total 1.0" in metrics
    configs.wait({})  # the last viewer left


def test_splice_panel_stream_and_click_mapping(
    harness: Harness, camera_agent: tuple[AgentSim, Configs]
) -> None:
    sim, configs = camera_agent
    http = harness.client
    cams = [{"agent": "agent-w", "device": f"cam{i}"} for i in range(1, 5)]
    group = http.post("/api/v1/wall/groups", json={"name": "g", "cameras": cams}, headers=AUTH).json()
    spec = {"name": "拼接屏", "rows": 2, "cols": 2, "group_id": group["id"], "canvas_width": 1280,
            "canvas_height": 720, "panel_rows": 1, "panel_cols": 2}  # fmt: skip
    wall = http.post("/api/v1/wall/walls", json=spec, headers=AUTH).json()
    at = http.get(f"/api/v1/wall/{wall['id']}/panel/0/1/at", params={"x": 10, "y": 400}, headers=AUTH).json()
    assert at == {"cell": 3, "camera": "agent-w/cam4", "label": "cam4"}
    assert http.get(f"/api/v1/wall/{wall['id']}/panel/0/2/at?x=1&y=1", headers=AUTH).status_code == 404
    assert http.get(f"/api/v1/wall/{wall['id']}/panel/0/0.mjpg").status_code == 401
    for i in range(1, 5):
        sim.send_raw(topics.tile("agent-w", f"cam{i}"), tile(i, 1_800_000_000))
    url = f"/api/v1/wall/{wall['id']}/panel/0/1.mjpg?token={TOKEN}"
    with http.stream("GET", url) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("multipart/x-mixed-replace")
        configs.wait({"cam2": 1.0, "cam4": 1.0})  # this panel's cameras only, while it is watched
        buf = b""
        img: Any = None
        for chunk in resp.iter_bytes():
            buf += chunk
            start, end = buf.find(b"\xff\xd8"), buf.find(b"\xff\xd9")
            if start >= 0 and end > start:
                img = cv2.imdecode(np.frombuffer(buf[start : end + 2], np.uint8), cv2.IMREAD_COLOR)
                break
    assert img.shape == (720, 640, 3)
    px, py = probe_point(640, 360)
    assert camera_index_for_colour(img[py, px]) == 2
    assert camera_index_for_colour(img[360 + py, px]) == 4
    configs.wait({})  # nobody watches any more
    assert 'hallmesh_wall_panel_cpu_seconds_total{panel="0_1",wall="' in http.get("/metrics").text
