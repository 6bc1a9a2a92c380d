"""`hallmesh demo` brings up broker, coordinator and agents; SIGINT (Ctrl-C) stops them all, leaving no process."""

from __future__ import annotations

import re
import signal
import subprocess
from pathlib import Path

import httpx
import psutil

from hallmesh_cli.procs import hallmesh_argv
from tests.support import free_port, wait_until


def _processes_mentioning(path: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if str(path) in cmdline:
            found.append(proc)
    return found


def test_demo_runs_everything_and_ctrl_c_leaves_nothing_behind(tmp_path: Path) -> None:
    demo_dir = tmp_path / "demo"
    http_port, mqtt_port = free_port(), free_port()
    out = tmp_path / "demo.out"
    with out.open("wb") as fh:
        demo = subprocess.Popen(
            hallmesh_argv(
                "demo", "--dir", str(demo_dir), "--agents", "2", "--devices", "2",
                "--port", str(http_port), "--mqtt-port", str(mqtt_port), "--cameras", "1",
            ),
            stdout=fh,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        token = wait_until(
            lambda: re.findall(r"API token: (\S+)", out.read_text()), timeout=60, what="demo banner"
        )[0]
        headers = {"Authorization": f"Bearer {token}"}

        expected = {
            # the counter window: 2 sim devices, the video terminal, the counter devices, a camera
            "yinchuan-xingqing-w01": [
                "doccam",
                "onvif",
                "printer",
                "scanner",
                "sigpad",
                "sim",
                "sim",
                "terminal",
            ],
            "yinchuan-xingqing-w02": ["onvif", "sim", "sim", "terminal"],
        }

        def all_up() -> bool:
            resp = httpx.get(f"http://127.0.0.1:{http_port}/api/v1/devices", headers=headers, timeout=5)
            devices = resp.json()["data"]
            kinds = {a: sorted(d["kind"] for d in devices if d["agent_id"] == a) for a in expected}
            if kinds == expected and all(d["status"] == "up" for d in devices):
                return True
            seen.clear()  # what is still missing, for the failure message
            seen.extend(
                f"{d['agent_id']}/{d['device_id']}={d['status']} {d.get('reason') or ''}" for d in devices
            )
            return False

        seen: list[str] = []
        try:
            wait_until(all_up, timeout=90, what="two demo agents with every simulated device up")
        except AssertionError as err:
            raise AssertionError(f"{err}; devices: {seen}") from None
        _live_preview_plays(http_port, headers)
        assert _listening({http_port, mqtt_port}) == {http_port, mqtt_port}
        assert len(_processes_mentioning(demo_dir)) >= 3  # coordinator config + two agents
        demo.send_signal(signal.SIGINT)
        assert demo.wait(60) == 0
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait(30)
    text = out.read_text()
    assert "stopped." in text
    assert _processes_mentioning(demo_dir) == []
    assert _listening({http_port, mqtt_port}) == set()


def _live_preview_plays(http_port: int, headers: dict[str, str]) -> None:
    """The counter's document camera serves the staff app's live preview (MJPEG on the loopback)."""
    base = f"http://127.0.0.1:{http_port}/api/v1"
    resp = httpx.post(
        f"{base}/agents/yinchuan-xingqing-w01/devices/doccam-1/commands",
        json={"action": "preview", "args": {}, "ttl_s": 60}, headers=headers, timeout=5,
    )  # fmt: skip
    assert resp.status_code == 202, resp.text
    cmd = resp.json()["cmd_id"]

    def result() -> dict[str, object] | None:
        body: dict[str, object] = httpx.get(f"{base}/commands/{cmd}", headers=headers, timeout=5).json()
        return body if body["status"] in ("done", "failed", "rejected", "expired") else None

    done = wait_until(result, timeout=30, what="the preview command's result")
    assert done is not None
    assert done["status"] == "done", done
    url = str(done["result"]["url"])  # type: ignore[index]
    assert url.startswith("http://127.0.0.1:")
    seen = b""
    with httpx.stream("GET", url, timeout=10) as stream:
        assert stream.headers["content-type"].startswith("multipart/x-mixed-replace")
        for chunk in stream.iter_bytes():
            seen += chunk
            if b"\xff\xd8\xff" in seen or len(seen) > 1 << 20:
                break
    head, _, _ = seen.partition(b"\xff\xd8\xff")
    assert b"image/jpeg" in head, seen[:200]  # a part header, then a JPEG
    assert len(head) < len(seen)


def _listening(ports: set[int]) -> set[int]:
    return {
        c.laddr.port
        for c in psutil.net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN and c.laddr.port in ports
    }


def test_demo_refuses_a_port_in_use(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(
            hallmesh_argv("demo", "--dir", str(tmp_path / "d"), "--port", str(port)),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert proc.returncode == 2
    assert f"port {port} on 127.0.0.1 is in use" in proc.stdout
