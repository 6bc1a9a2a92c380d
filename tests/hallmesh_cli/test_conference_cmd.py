"""``hallmesh sim terminal`` as a process, and ``hallmesh conference`` against a running coordinator."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path

from hallmesh_cli.procs import hallmesh_argv
from protocols.messages import DeviceInfo
from provisioning.broker import Broker
from provisioning.pki import Pki
from tests.coordinator.agent_sim import AgentSim
from tests.coordinator.conftest import TOKEN, AppServer, make_settings
from tests.support import free_port, wait_until


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(hallmesh_argv(*args), capture_output=True, text=True, timeout=60, env=env)


def test_sim_terminal_process_answers_on_loopback_and_stops_on_sigterm() -> None:
    port = free_port()
    proc = subprocess.Popen(
        hallmesh_argv("sim", "terminal", "--port", str(port), "--loss", "3"),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert f"listening on 127.0.0.1:{port}" in proc.stdout.readline()
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            f = sock.makefile("rwb")
            assert f.readline().startswith(b"* HELLO proto=1")
            f.write(b"1 STATUS\n")
            f.flush()
            assert f.readline().startswith(b"1 OK call=idle")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        if proc.stdout is not None:
            proc.stdout.close()


def test_conference_schedule_show_list_end(tmp_path: Path, pki: Pki, broker: Broker) -> None:
    settings = make_settings(pki, broker, f"sqlite:///{tmp_path / 'c.db'}", tmp_path / "data")
    server = AppServer(settings)
    pki.issue_agent("a1")
    agent = AgentSim(pki, broker.port, "a1")
    try:
        agent.wait_coordinator_online()
        agent.online()
        terminals = tuple(
            DeviceInfo(id=d, kind="terminal", commands=["dial", "hangup", "mute", "preset", "status"])
            for d in ("vt-1", "vt-2")
        )
        agent.birth(terminals)
        coordinator = server.app.state.coordinator
        wait_until(lambda: coordinator.live.get("a1"), what="agent registered")
        url = str(server.http.base_url).rstrip("/")
        env = {**os.environ, "HALLMESH_API_TOKEN": TOKEN}
        base = ("conference", "--url", url)
        sched = run(
            *base, "schedule", "--title", "全区会议", "--address", "m1@mcu", "--start", "+3600",
            "--main", "a1/vt-1", "--branch", "a1/vt-2", env=env,
        )  # fmt: skip
        assert sched.returncode == 0, sched.stderr
        conf_id = sched.stdout.split()[0]
        assert "scheduled" in sched.stdout
        assert "a1/vt-2" in sched.stdout
        listing = run(*base, "list", "--status", "scheduled", env=env)
        assert conf_id in listing.stdout
        shown = run(*base, "--json", "show", conf_id, env=env)
        assert '"title": "全区会议"' in shown.stdout
        ended = run(*base, "end", conf_id, env=env)
        assert "cancelled" in ended.stdout
        bad = run(*base, "schedule", "--title", "x", "--address", "m1@mcu", "--main", "a1/vt-1",
                  "--branch", "a1/nope", env=env)  # fmt: skip
        assert bad.returncode == 1
        assert "not a registered video terminal" in bad.stderr
        no_token = run(*base, "list", env={k: v for k, v in env.items() if k != "HALLMESH_API_TOKEN"})
        assert no_token.returncode == 2
    finally:
        agent.close()
        server.close()
