"""``python -m coordinator`` as a process: serves, and on SIGTERM publishes its retained offline state."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from provisioning.broker import Broker
from provisioning.pki import Pki
from tests.coordinator.agent_sim import AgentSim
from tests.support import free_port, wait_until


def test_serve_demo_mode_and_clean_shutdown(pki: Pki, broker: Broker, tmp_path: Path) -> None:
    files = pki.files("coordinator")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HALLMESH_")}
    env.update(
        HALLMESH_MQTT_PORT=str(broker.port),
        HALLMESH_MQTT_CA=str(pki.ca_cert_path),
        HALLMESH_MQTT_CERT=str(files.cert),
        HALLMESH_MQTT_KEY=str(files.key),
    )
    log = tmp_path / "coordinator.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "coordinator",
                "--demo",
                "--port",
                str(port),
                "--data-dir",
                str(tmp_path / "d"),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:

        def healthy() -> bool:
            assert proc.poll() is None, log.read_text()
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(healthy, timeout=30, what="coordinator healthy")
        watcher = AgentSim(pki, broker.port, "w1")
        watcher.wait_coordinator_online()
        token = next(
            line.rsplit(" ", 1)[1] for line in log.read_text().splitlines() if "(demo): API token" in line
        )
        r = httpx.get(f"http://127.0.0.1:{port}/api/v1/agents", headers={"Authorization": f"Bearer {token}"})
        assert r.json() == {"data": [], "count": 0}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        wait_until(lambda: watcher.coordinator_online is False, what="retained offline state")
        watcher.close()
        assert (tmp_path / "d" / "coordinator.db").exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_refuses_to_start_without_a_token(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HALLMESH_")}
    env.update(HALLMESH_MQTT_CA="/ca", HALLMESH_MQTT_CERT="/c", HALLMESH_MQTT_KEY="/k")
    r = subprocess.run(
        [sys.executable, "-m", "coordinator"], env=env, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 2
    assert "HALLMESH_API_TOKEN is required" in r.stderr
