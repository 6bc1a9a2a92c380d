"""Conclusion at a window prints the sealed certificate through the window's printer.

Real peers: Mosquitto (mTLS), `hallmesh agent run` with a printer device on ippeveprinter, the coordinator
app under uvicorn in this process (so the test can fire ``concluded`` through ``coordinator.case_hooks`` the
way the case workflow does, in a transaction). The spool file must be the sealed PDF, byte for byte, with the
overlay moved by the printer's calibration; a job the printer aborts is re-printed and logged as a re-print.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from coordinator.certificates.templates import get_template
from coordinator.certificates.verify import check_signature, trust_roots
from provisioning.broker import Broker
from provisioning.pki import Pki
from simulators.ippeve import IppEvePrinter
from tests.coordinator.certificates.org import fire, make_case, make_org
from tests.coordinator.conftest import AUTH, AppServer, make_settings
from tests.e2e.system import System
from tests.support import wait_until

AGENT = "yinchuan-xingqing-w9"
PRINTER = "printer-1"
MM = 72 / 25.4


@pytest.fixture
def printer(tmp_path: Path) -> Iterator[IppEvePrinter]:
    with IppEvePrinter(tmp_path / "ipp", job_seconds=0.3) as p:
        yield p


@pytest.fixture
def app(pki: Pki, broker: Broker, tmp_path: Path) -> Iterator[AppServer]:
    settings = make_settings(
        pki, broker, f"sqlite:///{tmp_path / 'c.db'}", tmp_path / "data", pki_dir=pki.dir
    )
    server = AppServer(settings)
    yield server
    server.close()


def _certificate(app: AppServer, case_id: int) -> dict[str, Any]:
    rows = app.http.get("/api/v1/certificates", params={"case_id": case_id}, headers=AUTH).json()
    if not rows:
        return {}
    detail: dict[str, Any] = app.http.get(f"/api/v1/certificates/{rows[0]['number']}", headers=AUTH).json()
    return detail


def _last_print(app: AppServer, case_id: int) -> dict[str, Any]:
    prints = _certificate(app, case_id).get("prints") or [{}]
    last: dict[str, Any] = prints[-1]
    return last


def test_conclusion_prints_the_sealed_certificate_at_the_window(
    world_dir: Path, pki: Pki, broker: Broker, printer: IppEvePrinter, app: AppServer
) -> None:
    coordinator = app.app.state.coordinator
    engine = coordinator.engine
    org = make_org(engine, agent_id=AGENT)
    system = System(world_dir, pki, broker)
    devices = f'[[devices]]\nid = "{PRINTER}"\nkind = "printer"\nuri = "{printer.uri}"\njob_poll_s = 0.3\n'
    system.add_agent(AGENT, devices=0, extra=f'[coordinator]\nurl = "{app.http.base_url}"\n{devices}')
    system.start_agent(AGENT)
    try:
        wait_until(
            lambda: PRINTER in getattr(coordinator.live.get(AGENT), "devices", {}), 30, what="printer known"
        )
        r = app.http.put(f"/api/v1/printers/{AGENT}/{PRINTER}/calibration",
                         json={"offset_x_mm": 1.5, "offset_y_mm": -2.0}, headers=AUTH)  # fmt: skip
        assert r.status_code == 200, r.text

        case_id = make_case(engine, org, applicant="张三")
        fire(engine, coordinator.case_hooks, case_id, "concluded",
             {"outcome": "approved", "template": "business_licence"})  # fmt: skip
        wait_until(
            lambda: _last_print(app, case_id).get("status") in ("completed", "failed"), 60, what="printed"
        )
        cert = _certificate(app, case_id)
        job = cert["prints"][-1]
        assert job["status"] == "completed", job
        assert job["agent_id"] == AGENT
        assert job["device_id"] == PRINTER
        sealed = app.http.get(f"/api/v1/certificates/{cert['number']}/pdf", headers=AUTH).content
        assert hashlib.sha256(sealed).hexdigest() == cert["sha256"]
        spooled = printer.spool_file(job["job_id"])
        assert spooled is not None
        assert spooled.read_bytes() == sealed  # the printer got the sealed PDF, byte for byte
        assert check_signature(spooled.read_bytes(), trust_roots([pki.ca_pem()])).ok
        # … with the overlay where the form expects it on this printer: template position + calibration.
        bbox = subprocess.run(
            ["pdftotext", "-bbox", str(spooled), "-"], capture_output=True, check=True
        ).stdout
        m = re.search(r'<word xMin="([\d.]+)" yMin="([\d.]+)"[^>]*>张三</word>', bbox.decode())
        assert m is not None
        holder = next(f for f in get_template("business_licence").fields if f.key == "holder")
        assert float(m.group(1)) / MM == pytest.approx(holder.x_mm + 1.5, abs=0.1)
        assert float(m.group(2)) / MM == pytest.approx(holder.y_mm - 2.0, abs=0.1)

        # A jam aborts the next job; the print is failed; the clerk's re-print goes through once it is cleared.
        printer.set_faults("STATE: +media-jam", exit_code=1)
        second = make_case(engine, org, applicant="赵六")
        fire(engine, coordinator.case_hooks, second, "concluded", {"outcome": "approved"})
        wait_until(
            lambda: _last_print(app, second).get("status") in ("completed", "failed"), 60, what="job ended"
        )
        failed = _last_print(app, second)
        assert failed["status"] == "failed", failed
        assert failed["job_state"] == "aborted"
        number = _certificate(app, second)["number"]
        printer.set_faults("STATE: -media-jam")  # cleared: the next job clears the reason and completes
        r = app.http.post(
            f"/api/v1/certificates/{number}/reprint", json={"requested_by": "clerk-9"}, headers=AUTH
        )
        assert r.status_code == 202, r.text
        wait_until(
            lambda: _last_print(app, second).get("status") in ("completed", "failed"), 60, what="re-print"
        )
        reprint = _last_print(app, second)
        assert reprint["status"] == "completed", reprint
        assert reprint["reprint_of"] == failed["id"]
        spooled2 = printer.spool_file(reprint["job_id"])
        assert spooled2 is not None
        assert hashlib.sha256(spooled2.read_bytes()).hexdigest() == _certificate(app, second)["sha256"]
        again = app.http.post(f"/api/v1/certificates/{number}/reprint", json={}, headers=AUTH)
        assert again.status_code == 409  # only a failed print is re-printed
    finally:
        system.stop()
