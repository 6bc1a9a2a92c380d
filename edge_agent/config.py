"""The agent's configuration: a pydantic tree loaded from ``agent.toml`` (see docs/agent.md).

Every table forbids unknown keys; relative paths are resolved against the directory of the config file;
errors name the file and the key, e.g. ``agent.toml: devices.0.poll_interval_s: Input should be greater
than 0``. ``[[devices]]`` is a discriminated union on ``kind`` gathered by :mod:`edge_agent.drivers.registry`.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from edge_agent.drivers import registry
from edge_agent.drivers.base import DeviceConfigBase
from edge_agent.errors import ConfigError
from protocols.topics import COORDINATOR_ID, ID_PATTERN, is_valid_id

if TYPE_CHECKING:
    DeviceConfig = DeviceConfigBase
else:
    DeviceConfig = registry.config_union()

PositiveSeconds = Annotated[float, Field(gt=0, le=86_400)]


def _resolve(value: Path, info: ValidationInfo) -> Path:
    base = (info.context or {}).get("base_dir")
    value = value.expanduser()
    return value if value.is_absolute() or base is None else (Path(base) / value).resolve()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BrokerConfig(_Strict):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8883
    ca: Path = Field(description="CA certificate (PEM) that signed the broker's certificate")
    cert: Path = Field(description="this agent's client certificate (PEM); its CN is the agent id")
    key: Path = Field(description="this agent's private key (PEM)")
    keepalive_s: Annotated[int, Field(ge=5, le=3600)] = 30
    reconnect_base_s: PositiveSeconds = Field(1.0, description="first reconnect delay; doubles per failure")
    reconnect_max_s: PositiveSeconds = Field(60.0, description="longest reconnect delay")

    _paths = field_validator("ca", "cert", "key")(_resolve)


class OutboxConfig(_Strict):
    max_entries: Annotated[int, Field(ge=1, le=100_000_000)] = 100_000
    window: Annotated[int, Field(ge=1, le=10_000)] = 200
    ack_timeout_s: PositiveSeconds = 5.0


class CoordinatorConfig(_Strict):
    """Where the agent renews its certificate (written by ``hallmesh provision enroll``)."""

    url: Annotated[str, Field(pattern=r"^https?://", max_length=512)]
    ca: Path | None = Field(None, description="CA to verify an https:// coordinator (default: system CAs)")
    renew_at: Annotated[float, Field(ge=0.1, le=0.95)] = Field(
        2 / 3, description="renew when this fraction of the certificate's lifetime has passed"
    )
    retry_s: PositiveSeconds = Field(60.0, description="longest wait between failed renewal attempts")

    @field_validator("ca")
    @classmethod
    def _ca_path(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return None if value is None else _resolve(value, info)


class UploadConfig(_Strict):
    """The blob pipeline (edge_agent/uploader.py): captures waiting for the coordinator."""

    spool_max_bytes: Annotated[int, Field(ge=1 << 20)] = Field(
        4 << 30, description="captures refused once this many bytes wait to be uploaded"
    )
    retry_max_s: PositiveSeconds = Field(30.0, description="longest wait between upload attempts")
    timeout_s: PositiveSeconds = Field(60.0, description="one upload's time limit")


class AgentConfig(_Strict):
    agent_id: str
    data_dir: Path = Field(description="outbox database and boot counter")
    broker: BrokerConfig
    outbox: OutboxConfig = OutboxConfig()
    coordinator: CoordinatorConfig | None = None
    uploads: UploadConfig = UploadConfig()
    telemetry_interval_s: Annotated[float, Field(gt=0, le=3600)] = 10.0
    devices: list[DeviceConfig] = []

    _data_dir = field_validator("data_dir")(_resolve)

    @field_validator("agent_id")
    @classmethod
    def _valid_agent_id(cls, value: str) -> str:
        if not is_valid_id(value) or value == COORDINATOR_ID:
            raise ValueError(f"must match {ID_PATTERN} and not be {COORDINATOR_ID!r}")
        return value

    @field_validator("devices")
    @classmethod
    def _unique_ids(cls, value: list[DeviceConfigBase]) -> list[DeviceConfigBase]:
        seen: set[str] = set()
        for device in value:
            if device.id in seen:
                raise ValueError(f"device id {device.id!r} appears twice")
            seen.add(device.id)
        return value


def _location(loc: tuple[int | str, ...]) -> str:
    parts = list(loc)
    # A tagged union puts the tag into the location (devices.0.sim.poll_interval_s): leave it out.
    if len(parts) > 2 and parts[0] == "devices" and parts[2] in registry.KINDS:
        del parts[2]
    return ".".join(str(p) for p in parts) or "(root)"


def parse_config(
    data: dict[str, Any], *, source: str = "agent.toml", base_dir: Path | None = None
) -> AgentConfig:
    """Validate an already parsed TOML document; relative paths are taken from ``base_dir``."""
    try:
        return AgentConfig.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as err:
        lines = [f"{source}: {_location(e['loc'])}: {e['msg']}" for e in err.errors()]
        raise ConfigError("\n".join(lines)) from err


def load_config(path: Path | str) -> AgentConfig:
    """Read and validate ``path``; raise :class:`ConfigError` naming the file and the key at fault."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as err:
        raise ConfigError(f"{path}: cannot read: {err.strerror or err}") from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from err
    return parse_config(data, source=str(path), base_dir=path.resolve().parent)
