"""The console command: help that lists every part, and errors that name what is wrong."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from hallmesh_cli.procs import hallmesh_argv


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(hallmesh_argv(*args), capture_output=True, text=True, timeout=60, env=env)


def test_help_lists_every_subcommand() -> None:
    out = run("--help").stdout
    for sub in ("demo", "broker", "coordinator", "agent", "pki", "sim"):
        assert sub in out


def test_agent_config_errors_name_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "agent.toml"
    bad.write_text(
        'agent_id = "a1"\ndata_dir = "d"\nbogus = 1\n[broker]\nca = "c"\ncert = "c"\nkey = "k"\nport = 0\n'
    )
    proc = run("agent", "run", "--config", str(bad))
    assert proc.returncode == 2
    assert f"{bad}: broker.port: Input should be greater than or equal to 1" in proc.stderr
    assert f"{bad}: bogus: Extra inputs are not permitted" in proc.stderr
    missing = run("agent", "run", "--config", str(tmp_path / "nope.toml"))
    assert missing.returncode == 2
    assert "nope.toml: cannot read" in missing.stderr


def test_coordinator_refuses_to_start_without_tls_or_token(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HALLMESH_")}
    proc = run("coordinator", "serve", "--data-dir", str(tmp_path), env=env)
    assert proc.returncode == 2
    assert "HALLMESH_MQTT_CA" in proc.stdout
    for name in ("ca", "cert", "key"):
        (tmp_path / name).write_text("x")
    proc = run(
        "coordinator", "serve", "--data-dir", str(tmp_path), "--mqtt-ca", str(tmp_path / "ca"),
        "--mqtt-cert", str(tmp_path / "cert"), "--mqtt-key", str(tmp_path / "key"), env=env,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "HALLMESH_API_TOKEN is required" in proc.stdout


def test_pki_issue_and_revoke(tmp_path: Path) -> None:
    pki = str(tmp_path / "pki")
    assert run("pki", "--dir", pki, "init").returncode == 0
    issued = run("pki", "--dir", pki, "issue-agent", "county-a.w1")
    assert issued.returncode == 0
    assert (tmp_path / "pki" / "issued" / "county-a.w1.pem").exists()
    bad = run("pki", "--dir", pki, "issue-agent", "Bad Id")
    assert bad.returncode == 2
    assert "invalid agent id" in bad.stdout
    assert run("pki", "--dir", pki, "revoke", "county-a.w1").returncode == 0
    assert "REVOKED" in run("pki", "--dir", pki, "list").stdout
