"""Packages import only in the directions of DESIGN.md §3, and every module imports on its own."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

ALLOWED: dict[str, set[str]] = {
    "protocols": set(),
    "device_profiles": {"protocols"},
    "edge_agent": {"protocols", "device_profiles"},
    "workflow": set(),
    "provisioning": {"protocols", "device_profiles"},
    "coordinator": {"protocols", "workflow", "provisioning"},
    "dashboard": set(),
    "simulators": {"protocols"},
    # The console command wires the parts together, so it may import all of them.
    "hallmesh_cli": {
        "protocols", "device_profiles", "edge_agent", "workflow", "provisioning", "coordinator", "dashboard",
        "simulators",
    },
}  # fmt: skip


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _imported_top_levels(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_every_package_of_the_design_exists() -> None:
    for package in ALLOWED:
        assert (ROOT / package / "__init__.py").exists(), package


def test_imports_point_one_way() -> None:
    ours = set(ALLOWED)
    wrong = []
    for package, allowed in ALLOWED.items():
        for path in _modules(package):
            for name in _imported_top_levels(path) & ours - {package} - allowed:
                wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert wrong == []


def test_every_module_imports_in_a_fresh_interpreter() -> None:
    modules = []
    for package in ALLOWED:
        for path in _modules(package):
            rel = path.relative_to(ROOT).with_suffix("")
            if rel.parts[-1] == "__main__" or "migrations" in rel.parts:
                continue
            parts = rel.parts[:-1] if rel.parts[-1] == "__init__" else rel.parts
            modules.append(".".join(parts))
    code = "import importlib, sys\nfor m in sys.argv[1:]:\n    importlib.import_module(m)\n"
    proc = subprocess.run(
        [sys.executable, "-W", "error", "-c", code, *modules], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
