"""`hallmesh sim <device>` hands its arguments to the simulator's own command line."""

from __future__ import annotations

import subprocess
from pathlib import Path

from hallmesh_cli.procs import hallmesh_argv


def test_sim_passes_arguments_through_to_the_simulator(tmp_path: Path) -> None:
    out = subprocess.run(
        hallmesh_argv("sim", "scanner-config", str(tmp_path / "sane")),
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"SANE_CONFIG_DIR={tmp_path / 'sane'}" in out.stdout
    assert (tmp_path / "sane" / "dll.conf").read_text().split() == ["test"]  # never the network backends


def test_sim_help_of_a_simulator_is_its_own() -> None:
    out = subprocess.run(hallmesh_argv("sim", "onvif", "--help"), capture_output=True, text=True, check=True)
    assert "--clock-skew" in out.stdout
