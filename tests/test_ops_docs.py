"""The alert rules shipped in docs/ops are valid Prometheus rules."""

import subprocess
from pathlib import Path

RULES = Path(__file__).resolve().parent.parent / "docs" / "ops" / "prometheus-rules.yml"


def test_alert_rules_pass_promtool() -> None:
    proc = subprocess.run(["promtool", "check", "rules", str(RULES)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS: 8 rules found" in proc.stdout
