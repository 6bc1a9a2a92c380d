from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.config import load_config
from edge_agent.drivers.sim import SimConfig
from edge_agent.errors import ConfigError

EXAMPLE = Path(__file__).parents[2] / "edge_agent" / "example-agent.toml"

MINIMAL = """
agent_id = "agent-1"
data_dir = "data"
[broker]
ca = "pki/ca.pem"
cert = "/etc/agent.pem"
key = "pki/agent.key"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(text)
    return path


def test_example_config_loads_with_paths_relative_to_the_file() -> None:
    cfg = load_config(EXAMPLE)
    assert cfg.agent_id == "ningxia-yc-xq-window-01"
    assert cfg.broker.ca == EXAMPLE.parent / "pki" / "ca.pem"
    assert cfg.data_dir == EXAMPLE.parent / "data"
    assert [d.id for d in cfg.devices] == ["sim-1", "sim-2"]
    assert all(isinstance(d, SimConfig) for d in cfg.devices)


def test_defaults(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, MINIMAL))
    assert cfg.broker.host == "127.0.0.1"
    assert cfg.broker.port == 8883
    assert cfg.broker.keepalive_s == 30
    assert cfg.broker.cert == Path("/etc/agent.pem")
    assert cfg.broker.key == tmp_path / "pki" / "agent.key"
    assert (cfg.outbox.max_entries, cfg.outbox.window, cfg.outbox.ack_timeout_s) == (100_000, 200, 5.0)
    assert cfg.telemetry_interval_s == 10
    assert cfg.devices == []


def test_sim_device_defaults(tmp_path: Path) -> None:
    cfg = load_config(
        write(tmp_path, MINIMAL.replace("[broker]", '[[devices]]\nid = "s1"\nkind = "sim"\n[broker]'))
    )
    (sim,) = cfg.devices
    assert isinstance(sim, SimConfig)
    assert sim.poll_interval_s == 5
    assert sim.event_interval_s == 0
    assert not sim.fail_at_start
    assert [p.name for p in sim.points] == ["temperature_celsius", "uptime_seconds"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('[[devices]]\nid = "s1"\nkind = "sim"\npoll_interval_s = 0\n', "devices.0.poll_interval_s: Input should be greater than 0"),
        ('[[devices]]\nid = "s1"\nkind = "sim"\ncolour = "red"\n', "devices.0.colour: Extra inputs are not permitted"),
        ('[[devices]]\nid = "s1"\nkind = "laser"\n', "devices.0: Input tag 'laser'"),
        ('[[devices]]\nid = "s1"\nkind = "sim"\n[[devices]]\nid = "s1"\nkind = "sim"\n', "devices: Value error, device id 's1' appears twice"),
        ("[outbox]\nwindow = 0\n", "outbox.window: Input should be greater than or equal to 1"),
        ("surprise = 1\n", "surprise: Extra inputs are not permitted"),
    ],
)  # fmt: skip
def test_errors_name_file_and_key(tmp_path: Path, extra: str, message: str) -> None:
    text = MINIMAL.replace("[broker]", extra + "[broker]") if extra.startswith("[[") else MINIMAL + extra
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert str(exc.value).startswith(f"{path}: ")
    assert message in str(exc.value)


@pytest.mark.parametrize("agent_id", ["Agent-1", "coordinator", "", "a/b"])
def test_agent_id_must_be_a_valid_id(tmp_path: Path, agent_id: str) -> None:
    with pytest.raises(ConfigError, match="agent_id"):
        load_config(write(tmp_path, MINIMAL.replace('"agent-1"', f'"{agent_id}"')))


def test_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "agent_id = "))
