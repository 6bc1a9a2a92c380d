"""Fixtures of the certificate tests: SQLite only (test_db checks the migration on PostgreSQL); the
coordinator's CA (``pki_dir``) issues the department seals."""

from __future__ import annotations

from pathlib import Path

import pytest

from coordinator.settings import Settings
from provisioning.broker import Broker
from provisioning.pki import Pki
from tests.coordinator.conftest import make_settings


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'coordinator.db'}"


@pytest.fixture
def coordinator_settings(pki: Pki, broker: Broker, db_url: str, tmp_path: Path) -> Settings:
    return make_settings(pki, broker, db_url, tmp_path / "data", pki_dir=pki.dir)
