"""Settings of the coordinator (environment variables ``HALLMESH_*``), passed into ``create_app``.

Outside demo mode the coordinator refuses to start without an API token (at least 16 characters) and without
the MQTT client certificate; in demo mode a random token is generated and announced on start.
Staff sign-in (JWT) is on only with ``HALLMESH_JWT_SECRET`` (at least 32 characters; demo mode makes one up).
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger(__name__)

MIN_TOKEN_LENGTH = 16
MIN_JWT_SECRET_LENGTH = 32


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HALLMESH_", extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(8400, ge=0, le=65535)
    data_dir: Path = Path(".hallmesh/coordinator")
    database_url: str = Field("", description="empty: SQLite file coordinator.db in data_dir")

    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = Field(8883, ge=1, le=65535)
    mqtt_ca: Path | None = None
    mqtt_cert: Path | None = None
    mqtt_key: Path | None = None
    mqtt_client_id: str = Field("hallmesh-coordinator", min_length=1, max_length=64)
    mqtt_keepalive_s: int = Field(30, ge=5, le=3600)

    api_token: SecretStr | None = None
    demo: bool = False

    ingest_batch_size: int = Field(500, ge=1, le=10_000)
    ingest_max_delay_s: float = Field(0.02, gt=0, le=5)
    ingest_queue_size: int = Field(100_000, ge=100)
    rebirth_interval_s: float = Field(5.0, gt=0)
    command_default_ttl_s: float = Field(60.0, gt=0, le=7 * 86400)
    command_sweep_interval_s: float = Field(1.0, gt=0, le=60)
    command_resend_s: float = Field(
        5.0, gt=0, description="republish open commands this long without a result"
    )

    pki_dir: Path | None = Field(
        None, description="the CA directory; enables enrollment, renewal and revocation"
    )
    broker_dir: Path | None = Field(
        None, description="directory of the running broker (CRL copy, mosquitto.pid) to reload on revocation"
    )
    agent_cert_lifetime_s: float = Field(90 * 86_400.0, ge=60, le=825 * 86_400)
    broker_public_host: str = Field(
        "", description="broker host told to enrolling agents (default mqtt_host)"
    )
    broker_public_port: int = Field(
        0, ge=0, le=65535, description="broker port told to agents (default mqtt_port)"
    )

    case_yellow_days: int = Field(
        2, ge=0, le=30, description="a case turns yellow when this many working days or fewer are left"
    )
    blob_max_bytes: int = Field(
        64 * 1024 * 1024, ge=1024, le=4 * 1024**3, description="largest upload the blob store accepts"
    )
    jwt_secret: SecretStr | None = Field(
        None, description="HS256 key of staff sign-in tokens (≥ 32 characters); unset: staff sign-in is off"
    )
    jwt_ttl_s: int = Field(8 * 3600, ge=60, le=7 * 86400, description="lifetime of a staff token")
    login_max_failures: int = Field(5, ge=1, le=100, description="wrong passwords in a row before a lockout")
    login_lockout_s: float = Field(900.0, gt=0, description="how long a locked account refuses sign-in")
    argon2_time_cost: int = Field(3, ge=1, le=50)
    argon2_memory_kib: int = Field(65536, ge=8, description="argon2id memory cost (tests lower it)")
    argon2_parallelism: int = Field(4, ge=1, le=64)

    wall_offline_after_s: float = Field(
        3.0, gt=0, le=300, description="a wall camera without a tile for this long shows offline"
    )
    wall_fps: float = Field(1.0, gt=0, le=10, description="tile rate asked for a camera shown on a wall")
    wall_enlarged_fps: float = Field(10.0, gt=0, le=10, description="tile rate of an enlarged camera")
    wall_panel_fps: float = Field(5.0, gt=0, le=30, description="frame rate of a splice-screen panel stream")
    wall_demand_debounce_s: float = Field(0.3, ge=0, le=10, description="quiet time before rates are sent")

    sms_gateway_url: str = Field(
        "", description="HTTP SMS gateway (JSON POST); empty: notices go to the local sink <data_dir>/sms"
    )
    sms_gateway_token: SecretStr | None = Field(None, description="bearer token of the SMS gateway")
    sms_retry_base_s: float = Field(5.0, gt=0, le=3600, description="first retry delay (doubles each time)")
    sms_retry_max_s: float = Field(300.0, gt=0, le=86_400, description="longest delay between retries")
    sms_max_attempts: int = Field(200, ge=1, le=10_000, description="attempts before a notice is failed")

    token_generated: bool = Field(False, exclude=True, description="set when demo mode made up the token")

    @model_validator(mode="after")
    def _check_safe(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.data_dir / 'coordinator.db').resolve()}"
        missing = [name for name in ("mqtt_ca", "mqtt_cert", "mqtt_key") if getattr(self, name) is None]
        if missing:
            env = ", ".join(f"HALLMESH_{m.upper()}" for m in missing)
            raise ValueError(f"the coordinator talks MQTT over mutual TLS only: set {env}")
        if self.api_token is None or not self.api_token.get_secret_value():
            if not self.demo:
                raise ValueError("HALLMESH_API_TOKEN is required (or HALLMESH_DEMO=1 to generate one)")
            self.api_token = SecretStr(secrets.token_urlsafe(24))
            self.token_generated = True
        elif len(self.api_token.get_secret_value()) < MIN_TOKEN_LENGTH and not self.demo:
            raise ValueError(f"HALLMESH_API_TOKEN must have at least {MIN_TOKEN_LENGTH} characters")
        if self.jwt_secret is None or not self.jwt_secret.get_secret_value():
            self.jwt_secret = SecretStr(secrets.token_urlsafe(32)) if self.demo else None
        elif len(self.jwt_secret.get_secret_value()) < MIN_JWT_SECRET_LENGTH and not self.demo:
            raise ValueError(f"HALLMESH_JWT_SECRET must have at least {MIN_JWT_SECRET_LENGTH} characters")
        return self

    @property
    def token(self) -> str:
        assert self.api_token is not None  # set by the validator
        return self.api_token.get_secret_value()

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
