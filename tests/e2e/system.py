"""The whole mesh as real processes for end-to-end tests: Mosquitto, `hallmesh coordinator serve` and
`hallmesh agent run` agents, each a child that dies with the test process."""

from __future__ import annotations

import os
import secrets
import signal
import sqlite3
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from hallmesh_cli.procs import coordinator_env, hallmesh_argv, spawn, terminate
from provisioning.broker import Broker
from provisioning.pki import Pki
from tests.support import free_port, wait_until


@dataclass
class AgentProc:
    agent_id: str
    config: Path
    log: Path
    proc: subprocess.Popen[bytes] | None = None


@dataclass
class System:
    root: Path
    pki: Pki
    broker: Broker
    database_url: str | None = None
    http_port: int = field(default_factory=free_port)
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    coordinator: subprocess.Popen[bytes] | None = None
    agents: dict[str, AgentProc] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)
    """more HALLMESH_* settings of the coordinator (e.g. provisioning)"""

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def sqlite_path(self) -> Path:
        return self.root / "coordinator" / "coordinator.db"

    # -- coordinator -------------------------------------------------------------------------------------

    def coordinator_env(self) -> dict[str, str]:
        files = self.pki.files("coordinator")
        env = coordinator_env(
            token=self.token, http_port=self.http_port, data_dir=self.root / "coordinator",
            mqtt_port=self.broker.port, ca=self.pki.ca_cert_path, cert=files.cert, key=files.key,
        )  # fmt: skip
        if self.database_url:
            env["HALLMESH_DATABASE_URL"] = self.database_url
        return {**env, **self.extra_env}

    def start_coordinator(self) -> None:
        self.coordinator = spawn(
            hallmesh_argv("coordinator", "serve"), self.root / "coordinator.log", env=self.coordinator_env()
        )
        wait_until(self._healthy, timeout=30, what="coordinator /healthz")

    def _healthy(self) -> bool:
        assert self.coordinator is not None
        if self.coordinator.poll() is not None:
            raise AssertionError(f"coordinator exited: {self.tail(self.root / 'coordinator.log')}")
        try:
            return httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def kill_coordinator(self) -> None:
        assert self.coordinator is not None
        self.coordinator.send_signal(signal.SIGKILL)
        self.coordinator.wait()

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        return httpx.request(method, f"{self.base_url}{path}", headers=headers, timeout=10, **kwargs)

    def agent_status(self, agent_id: str) -> dict[str, Any] | None:
        resp = self.api("GET", f"/api/v1/agents/{agent_id}")
        if resp.status_code == 404:
            return None
        resp.raise_for_status()
        data: dict[str, Any] = resp.json()
        return data

    def is_online(self, agent_id: str) -> bool:
        status = self.agent_status(agent_id)
        return bool(status and status["online"])

    def events_rows(self) -> list[tuple[str, str, int, int]]:
        """(agent_id, msg_id, seq, id) of every stored event, in insertion order (SQLite only)."""
        with sqlite3.connect(f"file:{self.sqlite_path}?mode=ro", uri=True, timeout=10) as conn:
            rows = conn.execute("SELECT agent_id, msg_id, seq, id FROM event ORDER BY id").fetchall()
        return [(str(a), str(m), int(s), int(i)) for a, m, s, i in rows]

    def events_count(self) -> int:
        if not self.sqlite_path.exists():
            return 0
        try:
            with sqlite3.connect(f"file:{self.sqlite_path}?mode=ro", uri=True, timeout=10) as conn:
                return int(conn.execute("SELECT count(*) FROM event").fetchone()[0])
        except sqlite3.OperationalError:
            return 0

    # -- agents ------------------------------------------------------------------------------------------

    def add_agent(self, agent_id: str, devices: int = 1, keepalive_s: int = 5, extra: str = "") -> AgentProc:
        if not self.pki.files(agent_id).cert.exists():
            self.pki.issue_agent(agent_id)
        root = self.root / "agents" / agent_id
        root.mkdir(parents=True, exist_ok=True)
        files = self.pki.files(agent_id)
        lines = [
            f'agent_id = "{agent_id}"',
            f'data_dir = "{root / "data"}"',
            "telemetry_interval_s = 1",
            extra,
            "[broker]",
            'host = "localhost"',
            f"port = {self.broker.port}",
            f'ca = "{self.pki.ca_cert_path}"',
            f'cert = "{files.cert}"',
            f'key = "{files.key}"',
            f"keepalive_s = {keepalive_s}",
            "reconnect_base_s = 0.2",
            "reconnect_max_s = 2",
            "[outbox]",
            "ack_timeout_s = 1",
        ]
        for i in range(1, devices + 1):
            lines += ["[[devices]]", f'id = "sim-{i}"', 'kind = "sim"', "poll_interval_s = 1"]
        config = root / "agent.toml"
        config.write_text("\n".join(lines) + "\n")
        agent = AgentProc(agent_id, config, self.root / f"{agent_id}.log")
        self.agents[agent_id] = agent
        return agent

    def start_agent(self, agent_id: str) -> AgentProc:
        agent = self.agents[agent_id]
        agent.proc = spawn(hallmesh_argv("agent", "run", "--config", str(agent.config)), agent.log)
        return agent

    def signal_agent(self, agent_id: str, sig: signal.Signals) -> None:
        proc = self.agents[agent_id].proc
        assert proc is not None
        proc.send_signal(sig)
        if sig == signal.SIGKILL:
            proc.wait()

    def command(self, agent_id: str, device: str, action: str, args: dict[str, Any] | None = None) -> str:
        resp = self.api(
            "POST",
            f"/api/v1/agents/{agent_id}/devices/{device}/commands",
            json={"action": action, "args": args or {}, "ttl_s": 120},
        )
        assert resp.status_code == 202, resp.text
        cmd_id: str = resp.json()["cmd_id"]
        return cmd_id

    # -- teardown ----------------------------------------------------------------------------------------

    def stop(self) -> None:
        procs = [a.proc for a in self.agents.values() if a.proc is not None]
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
        terminate(procs)
        if self.coordinator is not None:
            terminate([self.coordinator])

    @staticmethod
    def tail(path: Path, size: int = 3000) -> str:
        try:
            return path.read_text(errors="replace")[-size:]
        except OSError:
            return "(no log)"


def make_system(world_dir: Path, pki: Pki, broker: Broker, database_url: str | None = None) -> System:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    return System(world_dir, pki, broker, database_url)
