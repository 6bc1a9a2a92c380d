"""Settings refuse unsafe defaults outside demo mode and read HALLMESH_* variables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from coordinator.settings import Settings

TLS: dict[str, Any] = {
    "mqtt_ca": Path("/x/ca.pem"),
    "mqtt_cert": Path("/x/c.pem"),
    "mqtt_key": Path("/x/c.key"),
}


def test_api_token_is_required_outside_demo() -> None:
    with pytest.raises(ValidationError, match="HALLMESH_API_TOKEN is required"):
        Settings(**TLS)


def test_short_token_is_refused() -> None:
    with pytest.raises(ValidationError, match="at least 16 characters"):
        Settings(api_token="short", **TLS)


def test_mqtt_tls_files_are_required() -> None:
    with pytest.raises(ValidationError, match="HALLMESH_MQTT_CA, HALLMESH_MQTT_CERT, HALLMESH_MQTT_KEY"):
        Settings(api_token="x" * 20)


def test_demo_generates_a_token() -> None:
    s = Settings(demo=True, **TLS)
    assert s.token_generated
    assert len(s.token) >= 16
    assert Settings(demo=True, **TLS).token != s.token


def test_defaults_and_sqlite_under_data_dir(tmp_path: Path) -> None:
    s = Settings(api_token="x" * 20, data_dir=tmp_path, **TLS)
    assert (s.host, s.port, s.mqtt_client_id) == ("127.0.0.1", 8400, "hallmesh-coordinator")
    assert s.database_url == f"sqlite:///{tmp_path / 'coordinator.db'}"
    assert s.is_sqlite


def test_environment_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env = {
        "HALLMESH_API_TOKEN": "t" * 24,
        "HALLMESH_PORT": "9999",
        "HALLMESH_DATA_DIR": str(tmp_path),
        "HALLMESH_DATABASE_URL": "postgresql+psycopg://u@127.0.0.1:5/x",
        "HALLMESH_MQTT_CA": "/ca.pem",
        "HALLMESH_MQTT_CERT": "/c.pem",
        "HALLMESH_MQTT_KEY": "/c.key",
        "HALLMESH_INGEST_BATCH_SIZE": "100",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    s = Settings()
    assert (s.port, s.ingest_batch_size, s.token) == (9999, 100, "t" * 24)
    assert not s.is_sqlite
    assert "t" * 24 not in repr(s)
