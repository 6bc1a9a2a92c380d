"""Fixtures of the wall tests; they run on SQLite only (test_db checks the migration on PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest

from coordinator.settings import Settings
from provisioning.broker import Broker
from provisioning.pki import Pki
from tests.coordinator.agent_sim import AgentSim
from tests.coordinator.conftest import Harness, make_settings
from tests.coordinator.wall.helpers import CAMERAS, Configs
from tests.support import wait_until


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'coordinator.db'}"


@pytest.fixture
def coordinator_settings(pki: Pki, broker: Broker, db_url: str, tmp_path: Path) -> Settings:
    return make_settings(
        pki, broker, db_url, tmp_path / "data", wall_offline_after_s=1.0, wall_demand_debounce_s=0.05
    )


@pytest.fixture
def camera_agent(harness: Harness) -> tuple[AgentSim, Configs]:
    sim = harness.agent("agent-w")
    configs = Configs(sim)
    sim.online()
    sim.birth(CAMERAS)
    wait_until(lambda: harness.coordinator.live.get("agent-w") is not None
               and len(harness.coordinator.live.get("agent-w").devices) == 4, 10, what="birth")  # type: ignore[union-attr]  # fmt: skip
    return sim, configs
