"""`hallmesh provision check` for the devices: open, describe, one health poll, and on request a test capture
(SANE test scanner: one flatbed page; signature pad: INFO) and a test page that ippeveprinter really spools.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from hallmesh_cli.procs import hallmesh_argv
from simulators.doccam import DoccamSim, DoccamSimOptions
from simulators.ippeve import IppEvePrinter
from simulators.sane_test import prepare
from simulators.sigpad import SigpadSim
from tests.support import free_port

HEAD = """\
agent_id = "yc-xq-w07-pc"
data_dir = "data"

[broker]
ca = "pki/ca.pem"
cert = "pki/agent.pem"
key = "pki/agent.key"
"""


@pytest.fixture(scope="module")
def printer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IppEvePrinter]:
    with IppEvePrinter(tmp_path_factory.mktemp("ipp"), job_seconds=0.2) as p:
        yield p


@pytest.fixture(scope="module")
def pad() -> Iterator[SigpadSim]:
    sim = SigpadSim().start()
    yield sim
    sim.stop()


@pytest.fixture
def doccam() -> Iterator[DoccamSim]:
    sim = DoccamSim(DoccamSimOptions(width=960, height=720)).start()
    yield sim
    sim.stop()


def device(dev_id: str, kind: str, **keys: object) -> str:
    lines = ["", "[[devices]]", f'id = "{dev_id}"', f'kind = "{kind}"']
    lines += [f"{k} = {json.dumps(v)}" for k, v in keys.items()]
    return "\n".join(lines) + "\n"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HALLMESH_", "SANE_"))}
    return subprocess.run(
        hallmesh_argv(*args), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, env=env
    )


def row(stdout: str, check: str) -> tuple[str, str]:
    m = re.search(rf"^{re.escape(check)}\s+(OK|WARN|FAIL|SKIP)\s+(.*)$", stdout, re.MULTILINE)
    assert m, f"no row {check!r} in:\n{stdout}"
    return m[1], m[2]


def test_test_capture_and_test_page_go_through_the_real_devices(
    tmp_path: Path, printer: IppEvePrinter, pad: SigpadSim, doccam: DoccamSim
) -> None:
    sane = prepare(tmp_path / "sane")
    config = tmp_path / "agent.toml"
    config.write_text(
        HEAD
        + device("printer-1", "printer", uri=printer.uri, job_poll_s=0.2)
        + device("scanner-1", "scanner", device="test:0", sane_config_dir=str(sane.config_dir))
        + device("sigpad-1", "sigpad", port=pad.path)
        + device("doccam-1", "doccam", source=doccam.url, width=960, height=720)
    )
    out = cli(
        "provision", "check", "--config", str(config), "--devices-only", "--test-capture", "--test-page"
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert row(out.stdout, "device printer-1")[0] == "OK"
    status, detail = row(out.stdout, "test printer-1")
    assert status == "OK"
    assert re.match(r"test page printed: job \d+ completed", detail)
    status, detail = row(out.stdout, "test scanner-1")
    assert status == "OK"
    assert "scanned 1 flatbed page(s) at 150 dpi" in detail
    status, detail = row(out.stdout, "test sigpad-1")
    assert status == "OK"
    assert detail.startswith("INFO: HM-SP100 firmware")
    status, detail = row(out.stdout, "test doccam-1")
    assert status == "OK"
    assert re.match(r"captured \d+ kB image/jpeg \d+×\d+ in", detail)
    assert "checking device printer-1 (test page)…" in out.stderr
    assert "certificate" not in out.stdout  # --devices-only
    assert out.stdout.rstrip().endswith("all checks passed")
    spooled = [p for p in printer.spool_dir.iterdir() if p.name.endswith("-hallmesh-test-page.pdf")]
    assert len(spooled) == 1
    assert spooled[0].read_bytes().startswith(b"%PDF")


def test_an_unreachable_device_fails_the_check_with_its_reason(
    tmp_path: Path, printer: IppEvePrinter
) -> None:
    closed = free_port()
    config = tmp_path / "agent.toml"
    config.write_text(
        HEAD
        + device("printer-1", "printer", uri=printer.uri)
        + device("printer-9", "printer", uri=f"ipp://127.0.0.1:{closed}/ipp/print", request_timeout_s=2)
        + device("sigpad-9", "sigpad", port=str(tmp_path / "ttyGONE"))
    )
    out = cli("provision", "check", "--config", str(config), "--devices-only")
    assert out.returncode == 1
    assert row(out.stdout, "device printer-1")[0] == "OK"
    status, detail = row(out.stdout, "device printer-9")
    assert status == "FAIL"
    assert f"unreachable: Get-Printer-Attributes to ipp://127.0.0.1:{closed}/ipp/print" in detail
    status, detail = row(out.stdout, "device sigpad-9")
    assert status == "FAIL"
    assert "ttyGONE" in detail
    assert out.stdout.rstrip().endswith("2 check(s) failed")

    as_json = json.loads(
        cli("provision", "check", "--config", str(config), "--devices-only", "--json").stdout
    )
    assert as_json["ok"] is False
    assert {c["check"]: c["status"] for c in as_json["checks"]} == {
        "config": "ok", "device printer-1": "ok", "device printer-9": "fail", "device sigpad-9": "fail",
    }  # fmt: skip

    only = cli("provision", "check", "--config", str(config), "--devices-only", "--device", "printer-1")
    assert only.returncode == 0, only.stdout
    assert "printer-9" not in only.stdout
    missing = cli("provision", "check", "--config", str(config), "--devices-only", "--device", "scanner-5")
    assert missing.returncode == 1
    assert "no device scanner-5 in" in missing.stdout
