"""Fixtures with real components: a CA, Mosquitto with mTLS, SQLite and a throwaway PostgreSQL cluster."""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from provisioning.broker import Broker, BrokerOptions
from provisioning.pki import Pki
from tests.support import PostgresCluster, free_port, shared_tmpdir

_db_counter = itertools.count()


@pytest.fixture
def world_dir() -> Iterator[Path]:
    """A scratch directory readable by the broker's unprivileged user; removed after the test."""
    path = shared_tmpdir("hallmesh-test-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def pki(world_dir: Path) -> Pki:
    ca = Pki.create(world_dir / "pki")
    ca.issue_coordinator()
    return ca


@pytest.fixture
def broker(world_dir: Path, pki: Pki) -> Iterator[Broker]:
    b = Broker(world_dir / "broker", pki, BrokerOptions(port=free_port()))
    b.start()
    yield b
    b.stop(kill=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster()
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database: SQLite file, or a new database in the session's PostgreSQL cluster."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'coordinator.db'}"
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    return cluster.create_database(f"hallmesh_test_{next(_db_counter)}")


# -- parallel runs (pytest-xdist, `make test` runs `-n 3 --dist loadgroup`) ----------------------------------
# Tests that burn CPU (video rendering and decoding, browsers, whole demo stacks) run one after another on one
# worker, so they do not starve each other on a 2-core machine; tests that measure reaction times against
# keepalives and reconnect delays run together on another. Everything else is spread over the workers.
HEAVY = (
    "tests/edge_agent/test_doccam", "tests/simulators/test_doccam", "tests/edge_agent/test_onvif",
    "tests/simulators/test_onvif", "tests/simulators/test_scene", "tests/coordinator/wall/",
    "tests/e2e/test_wall", "tests/e2e/test_counter_window", "tests/e2e/test_staff_app", "tests/dashboard/",
    "tests/hallmesh_cli/test_demo", "tests/hallmesh_cli/test_provision_discover",
    "tests/hallmesh_cli/test_provision_check", "tests/provisioning/test_discovery",
)  # fmt: skip
TIMING = ("tests/e2e/test_presence", "tests/edge_agent/test_link", "tests/e2e/test_conference")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = Path(str(config.rootpath))
    for item in items:
        rel = Path(str(item.path)).relative_to(root).as_posix()
        if rel.startswith(HEAVY):
            item.add_marker(pytest.mark.xdist_group("heavy"))
        elif rel.startswith(TIMING):
            item.add_marker(pytest.mark.xdist_group("timing"))
