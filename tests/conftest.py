"""Fixtures with real components: a CA, Mosquitto with mTLS, SQLite and a throwaway PostgreSQL cluster."""

from __future__ import annotations

import itertools
import shutil
import signal
import sys
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


def _sigpipe_ignored() -> bool:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGPIPE - 1)))
    return True


@pytest.fixture(autouse=True)
def _keep_sigpipe_ignored(request: pytest.FixtureRequest) -> Iterator[None]:
    """Python ignores SIGPIPE (a write to a closed pipe raises BrokenPipeError instead); a native library
    loaded by one test must not change that for the rest of the run, where a client going away would then kill
    the test process. Restored after every test, and said once."""
    yield
    if not _sigpipe_ignored():
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        print(f"\nSIGPIPE was no longer ignored after {request.node.nodeid}; ignored again", file=sys.stderr)
