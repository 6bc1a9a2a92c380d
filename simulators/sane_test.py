"""A private SANE configuration that loads only the ``test`` backend (RECIPES.md, "SANE test backend").

Debian's stock ``/etc/sane.d`` loads network backends that broadcast for scanners, so tests and the demo always
point ``SANE_CONFIG_DIR`` at a directory made here: ``dll.conf`` names only ``test``, and ``test.conf`` is a copy
of the system's with the scan area raised to A4 (210 × 297 mm) and a colour test picture, so pages look like
pages. ``SANE_CONFIG_DIR`` is read by ``sane_init()`` and is process-wide: set it before the first
``sane.init()`` (the scanner driver does that from its ``sane_config_dir``), or pass :attr:`SaneTestConfig.env`
to a child process.

    cfg = prepare(tmp_path / "sane")
    subprocess.run(["scanimage", "-d", cfg.device, "--format=png"], env={**os.environ, **cfg.env})

The test backend simulates faults with its ``read-return-value`` option (``SANE_STATUS_JAMMED``,
``…_COVER_OPEN``, ``…_NO_DOCS``, ``…_IO_ERROR``) and an ADF that holds 10 pages per batch.

``python -m simulators.sane_test [DIR]`` prepares DIR (or a new temp dir) and prints what it set up.
"""

from __future__ import annotations

import argparse
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

SYSTEM_TEST_CONF: Final = Path("/etc/sane.d/test.conf")
A4_MM: Final = (210.0, 297.0)

_FALLBACK_CONF: Final = """\
number_of_devices 2
mode Gray
depth 8
resolution 50.0
test-picture "Solid black"
geometry_min 0.0
geometry_max 200.0
geometry_quant 1.0
tl_x 0.0
tl_y 0.0
br_x 80.0
br_y 100.0
"""


@dataclass(frozen=True, slots=True)
class SaneTestConfig:
    config_dir: Path
    device: str = "test:0"

    @property
    def env(self) -> dict[str, str]:
        """Environment for a process that should see only the test backend (no trailing ``:``)."""
        return {"SANE_CONFIG_DIR": str(self.config_dir)}


def _set(conf: str, key: str, value: str) -> str:
    line = f"{key} {value}"
    pattern = re.compile(rf"^{re.escape(key)}\s.*$", re.MULTILINE)
    return pattern.sub(line, conf) if pattern.search(conf) else f"{conf.rstrip()}\n{line}\n"


def prepare(config_dir: Path, *, a4: bool = True, picture: str = "Color pattern") -> SaneTestConfig:
    """Write ``dll.conf`` (only ``test``) and ``test.conf`` into ``config_dir`` (created if missing)."""
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "dll.conf").write_text("test\n")
    conf = SYSTEM_TEST_CONF.read_text() if SYSTEM_TEST_CONF.is_file() else _FALLBACK_CONF
    conf = _set(conf, "test-picture", f'"{picture}"')
    if a4:
        conf = _set(conf, "geometry_max", "300.0")
        conf = _set(conf, "br_x", f"{A4_MM[0]:.1f}")
        conf = _set(conf, "br_y", f"{A4_MM[1]:.1f}")
    (config_dir / "test.conf").write_text(conf)
    return SaneTestConfig(config_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m simulators.sane_test",
        description="Prepare a private SANE config (test backend only).",
    )
    parser.add_argument("dir", nargs="?", type=Path, help="config directory (default: a new temp dir)")
    parser.add_argument("--no-a4", action="store_true", help="keep the backend's 80 × 100 mm default area")
    args = parser.parse_args(argv)
    config_dir = args.dir or Path(tempfile.mkdtemp(prefix="hallmesh-sane-"))
    cfg = prepare(config_dir, a4=not args.no_a4)
    print(f"SANE_CONFIG_DIR={cfg.config_dir}")
    print(f"device={cfg.device}  (also test:1)")
    print(f"dll.conf: {(cfg.config_dir / 'dll.conf').read_text().strip()}")
    print(f"try: SANE_CONFIG_DIR={cfg.config_dir} scanimage -d {cfg.device} --format=png > page.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
