"""Shared set-up for the benchmarks: a CA, Mosquitto and a coordinator process on loopback."""

from __future__ import annotations

import secrets
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from hallmesh_cli.procs import coordinator_env, hallmesh_argv, spawn, terminate
from provisioning.broker import Broker, BrokerOptions
from provisioning.pki import Pki
from tests.support import free_port, shared_tmpdir, wait_until


@dataclass
class Bench:
    root: Path
    pki: Pki
    broker: Broker
    http_port: int
    token: str
    coordinator: subprocess.Popen[bytes] | None = None

    @property
    def db_path(self) -> Path:
        return self.root / "coordinator" / "coordinator.db"

    def start_coordinator(self, extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        files = self.pki.files("coordinator")
        env = coordinator_env(
            token=self.token, http_port=self.http_port, data_dir=self.root / "coordinator",
            mqtt_port=self.broker.port, ca=self.pki.ca_cert_path, cert=files.cert, key=files.key,
        )  # fmt: skip
        env.update(extra_env or {})
        self.coordinator = spawn(
            hallmesh_argv("--log-level", "WARNING", "coordinator", "serve"),
            self.root / "coordinator.log",
            env=env,
        )
        wait_until(self._healthy, timeout=60, what="coordinator healthy")
        return self.coordinator

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{self.http_port}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def api(self, path: str) -> Any:
        resp = httpx.get(
            f"http://127.0.0.1:{self.http_port}{path}",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=60,
        )
        resp.raise_for_status()
        return resp.json()

    def event_rows(self) -> int:
        if not self.db_path.exists():
            return 0
        try:
            with sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10) as conn:
                return int(conn.execute("SELECT count(*) FROM event").fetchone()[0])
        except sqlite3.OperationalError:
            return 0


@contextmanager
def bench_world(name: str) -> Iterator[Bench]:
    root = shared_tmpdir(f"hallmesh-bench-{name}-")
    pki = Pki.create(root / "pki")
    pki.issue_coordinator()
    broker = Broker(root / "broker", pki, BrokerOptions(port=free_port(), persistence=False))
    broker.start()
    bench = Bench(root, pki, broker, free_port(), secrets.token_urlsafe(24))
    try:
        yield bench
    finally:
        if bench.coordinator is not None:
            terminate([bench.coordinator])
        broker.stop()
        shutil.rmtree(root, ignore_errors=True)


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f} msg/s ({count:,} in {seconds:.2f} s)"


def now() -> float:
    return time.perf_counter()
