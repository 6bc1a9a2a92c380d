"""The private SANE config: only the test backend, A4 geometry, usable by scanimage through its env."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from PIL import Image

from simulators.sane_test import main, prepare


def test_prepare_writes_a_private_config(tmp_path: Path) -> None:
    cfg = prepare(tmp_path / "sane")
    assert (cfg.config_dir / "dll.conf").read_text() == "test\n"
    conf = (cfg.config_dir / "test.conf").read_text()
    assert "\ngeometry_max 300.0\n" in conf
    assert "\nbr_x 210.0\n" in conf
    assert "\nbr_y 297.0\n" in conf
    assert '\ntest-picture "Color pattern"\n' in conf
    assert cfg.env == {"SANE_CONFIG_DIR": str(cfg.config_dir)}
    assert cfg.device == "test:0"


def test_scanimage_sees_only_the_test_backend_and_scans_a4(tmp_path: Path) -> None:
    cfg = prepare(tmp_path / "sane")
    env = {**os.environ, **cfg.env}
    listing = subprocess.run(["scanimage", "-L"], env=env, capture_output=True, text=True, timeout=30).stdout
    devices = [line for line in listing.splitlines() if line.startswith("device")]
    assert devices
    assert all("`test:" in line for line in devices), devices
    out = tmp_path / "page.png"
    with out.open("wb") as f:
        subprocess.run(
            ["scanimage", "-d", cfg.device, "--format=png", "--resolution", "25"],
            env=env, stdout=f, check=True, timeout=30,
        )  # fmt: skip
    with Image.open(out) as page:
        width, height = page.size
    assert abs(width - 210 / 25.4 * 25) <= 2
    assert abs(height - 297 / 25.4 * 25) <= 2


def test_main_prints_what_it_set_up(tmp_path: Path, capsys: object) -> None:
    assert main([str(tmp_path / "cfg")]) == 0
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert f"SANE_CONFIG_DIR={tmp_path / 'cfg'}" in out
    assert (tmp_path / "cfg" / "dll.conf").exists()
