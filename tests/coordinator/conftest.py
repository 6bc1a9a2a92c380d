"""Fixtures of the coordinator tests: settings against the real broker, a running app, simulated agents."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
import uvicorn
from fastapi import FastAPI

from coordinator.app import create_app
from coordinator.runtime import Coordinator
from coordinator.settings import Settings
from provisioning.broker import Broker
from provisioning.pki import Pki
from tests.coordinator.agent_sim import AgentSim
from tests.support import free_port, wait_until

TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def make_settings(pki: Pki, broker: Broker, db_url: str, data_dir: Path, **extra: object) -> Settings:
    files = pki.files("coordinator")
    values: dict[str, object] = {
        "data_dir": data_dir,
        "database_url": db_url,
        "mqtt_port": broker.port,
        "mqtt_ca": pki.ca_cert_path,
        "mqtt_cert": files.cert,
        "mqtt_key": files.key,
        "api_token": TOKEN,
        "command_sweep_interval_s": 0.1,
        "mqtt_client_id": f"coord-{broker.port}",
        **extra,
    }
    return Settings(**values)  # type: ignore[arg-type]


class AppServer:
    """The app under uvicorn in a thread on a free port (lifespan included), with an httpx client."""

    def __init__(self, settings: Settings) -> None:
        self.app: FastAPI = create_app(settings)
        port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(self.app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
        )
        self.thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)
        self.thread.start()
        wait_until(lambda: self.server.started or not self.thread.is_alive(), 30, what="uvicorn started")
        assert self.server.started, "the app did not start"
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
        self.closed = False

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.http.close()
        self.server.should_exit = True
        self.thread.join(30)


@dataclass
class Harness:
    settings: Settings
    server: AppServer
    pki: Pki
    broker: Broker
    agents: list[AgentSim] = field(default_factory=list)

    @property
    def coordinator(self) -> Coordinator:
        c: Coordinator = self.server.app.state.coordinator
        return c

    @property
    def client(self) -> httpx.Client:
        return self.server.http

    @property
    def engine(self) -> sa.Engine:
        return self.coordinator.engine

    def agent(self, agent_id: str, boot: int = 1, epoch: str = "epoch-1") -> AgentSim:
        sim = AgentSim(self.pki, self.broker.port, agent_id, boot=boot, epoch=epoch)
        self.agents.append(sim)
        sim.wait_coordinator_online()
        return sim

    def stop(self) -> None:
        for a in self.agents:
            a.close()
        self.agents.clear()
        self.server.close()

    def get(self, url: str, **kw: object) -> object:
        r = self.client.get(url, headers=AUTH, **kw)  # type: ignore[arg-type]
        assert r.status_code == 200, r.text
        return r.json()

    def scalar(self, sql: str, **params: object) -> object:
        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar()

    def rows(self, sql: str, **params: object) -> list[sa.Row[object]]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.text(sql), params).all())


@pytest.fixture
def coordinator_settings(pki: Pki, broker: Broker, db_url: str, tmp_path: Path) -> Settings:
    return make_settings(pki, broker, db_url, tmp_path / "data")


@pytest.fixture
def start_coordinator(
    pki: Pki, broker: Broker, coordinator_settings: Settings
) -> Iterator[Callable[..., Harness]]:
    """Start the app (lifespan included); call again after ``harness.stop()`` to restart it."""
    harnesses: list[Harness] = []

    def start(settings: Settings | None = None) -> Harness:
        settings = settings or coordinator_settings
        h = Harness(settings, AppServer(settings), pki, broker)
        harnesses.append(h)
        return h

    yield start
    for h in harnesses:
        h.stop()


@pytest.fixture
def harness(start_coordinator: Callable[..., Harness]) -> Harness:
    return start_coordinator()
