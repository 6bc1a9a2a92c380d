"""`hallmesh provision`: help in Chinese and English, clear errors without a token or a coordinator."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from hallmesh_cli.procs import hallmesh_argv
from tests.support import free_port


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HALLMESH_")}
    return subprocess.run(hallmesh_argv(*args), capture_output=True, text=True, timeout=60, env=env)


def test_help_lists_the_actions_in_both_languages() -> None:
    assert "provision" in run("--help").stdout
    out = run("provision", "--help").stdout
    for action in ("token", "enroll", "check", "agents", "revoke", "decommission", "audit"):
        assert action in out
    assert "现场部署" in out
    enroll = run("provision", "enroll", "--help").stdout
    assert "--service-point" in enroll
    assert "never leaves" in enroll


def test_admin_commands_need_a_token_and_say_where_the_coordinator_is_missing() -> None:
    no_token = run("provision", "agents")
    assert no_token.returncode == 1
    assert "no API token" in no_token.stderr
    port = free_port()
    down = run(
        "provision", "revoke", "a1", "--coordinator", f"http://127.0.0.1:{port}", "--api-token", "x" * 20
    )
    assert down.returncode == 1
    assert f"cannot reach the coordinator at http://127.0.0.1:{port}" in down.stderr


def test_enroll_against_nothing_says_it_is_safe_to_retry(tmp_path: Path) -> None:
    port = free_port()
    out = run("provision", "enroll", "--coordinator", f"http://127.0.0.1:{port}", "--token", "AAAAA-BBBBB-CCCCC",
              "--service-point", "w1", "--dir", str(tmp_path / "pc"))  # fmt: skip
    assert out.returncode == 1
    assert "safe to run the same command again" in out.stderr
    assert (tmp_path / "pc" / "pki" / "agent.key").stat().st_mode & 0o777 == 0o600


def test_check_of_a_missing_config_fails_with_the_reason(tmp_path: Path) -> None:
    out = run("provision", "check", "--config", str(tmp_path / "nope.toml"))
    assert out.returncode == 1
    assert "nope.toml: cannot read" in out.stdout
