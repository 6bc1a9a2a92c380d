"""A counter window end to end: a clerk's case fills from the window's real device peers.

Real processes and peers: Mosquitto (mTLS), `hallmesh coordinator serve`, `hallmesh agent run` with a document
camera (the simulator's skewed page read by OpenCV over MJPEG), a scanner (SANE test backend, private config),
a signature pad (simulator on a pty) and a printer (ippeveprinter). The clerk works through the case API.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from hallmesh_cli.demo_org import seed_demo
from simulators.doccam import DoccamSim, DoccamSimOptions
from simulators.ippeve import IppEvePrinter
from simulators.sane_test import prepare
from simulators.sigpad import SigpadSim, SigpadSimOptions
from tests.e2e.system import System
from tests.support import wait_until

AGENT = "yinchuan-xingqing-w7"
JWT = "e2e-jwt-secret-" + "y" * 40


@pytest.fixture
def peers(tmp_path: Path) -> Iterator[dict[str, Any]]:
    doccam = DoccamSim(DoccamSimOptions(width=1600, height=1200, fps=8.0)).start()
    pad = SigpadSim(SigpadSimOptions()).start()
    printer = IppEvePrinter(tmp_path / "printer").start()
    sane = prepare(tmp_path / "sane")
    try:
        yield {"doccam": doccam, "pad": pad, "printer": printer, "sane": sane}
    finally:
        printer.stop()
        pad.stop()
        doccam.stop()


def _devices(p: dict[str, Any]) -> str:
    return "\n".join(
        [
            "[[devices]]", 'id = "doccam-1"', 'kind = "doccam"', f'source = "{p["doccam"].url}"',
            "[[devices]]", 'id = "sigpad-1"', 'kind = "sigpad"', f'port = "{p["pad"].path}"',
            "[[devices]]", 'id = "printer-1"', 'kind = "printer"', f'uri = "{p["printer"].uri}"',
            "[[devices]]", 'id = "scanner-1"', 'kind = "scanner"', 'device = "test:0"',
            f'sane_config_dir = "{p["sane"].config_dir}"',
        ]
    )  # fmt: skip


def _materials(system: System, case_id: int) -> list[dict[str, Any]]:
    with sqlite3.connect(f"file:{system.sqlite_path}?mode=ro", uri=True, timeout=10) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute(
            "SELECT * FROM case_material WHERE case_id = ? ORDER BY id", (case_id,)
        ).fetchall()
    return [dict(r) for r in rows]


def test_a_case_fills_from_the_windows_devices_and_prints(system: System, peers: dict[str, Any]) -> None:
    system.extra_env["HALLMESH_JWT_SECRET"] = JWT
    system.start_coordinator()
    users = seed_demo(sa.create_engine(f"sqlite:///{system.sqlite_path}"), [AGENT])
    clerk = next(u for u in users if u.employee_no == "demo-clerk")
    # The device sections go after the agent's own keys; the harness appends its sim device after them.
    agent = system.add_agent(AGENT, devices=0, extra=f'[coordinator]\nurl = "{system.base_url}"\n')
    agent.config.write_text(agent.config.read_text() + _devices(peers) + "\n")
    system.start_agent(AGENT)

    def all_up() -> bool:
        status = system.agent_status(AGENT)
        return bool(status and status["online"] and len(status.get("devices", [])) == 4
                    and all(d["status"] == "up" for d in status["devices"]))  # fmt: skip

    wait_until(all_up, timeout=60, what="agent online with its four devices up")
    with httpx.Client(base_url=system.base_url, timeout=20) as http:
        token = http.post(
            "/api/v1/auth/login", json={"employee_no": clerk.employee_no, "password": clerk.password}
        )
        http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        with sqlite3.connect(f"file:{system.sqlite_path}?mode=ro", uri=True, timeout=10) as conn:
            (window_id,) = conn.execute("SELECT id FROM org_window WHERE agent_id = ?", (AGENT,)).fetchone()
        case = http.post("/api/v1/cases", json={"window_id": window_id, "title": "个体工商户设立登记"}).json()

        # Photograph the application form and scan a 10-page ADF batch, from the case.
        for kind, args in (("doccam", {}), ("scanner", {"source": "ADF", "resolution": 100, "mode": "Gray"})):
            r = http.post(f"/api/v1/cases/{case['id']}/captures", json={"device_kind": kind, "args": args})
            assert r.status_code == 202, r.text
        wait_until(lambda: len(_materials(system, case["id"])) >= 2, timeout=60, what="photo and scan filed")
        by_kind = {m["kind"]: m for m in _materials(system, case["id"])}
        assert by_kind["photo"]["media_type"] == "image/jpeg"
        assert by_kind["photo"]["device_id"] == "doccam-1"
        assert by_kind["scan"]["media_type"] == "application/pdf"
        assert by_kind["scan"]["pages"] == 10

        # The applicant signs on the pad and presses OK: a device-initiated capture, filed into the case
        # that is open at the window.
        sent = peers["pad"].sign_random(7)
        wait_until(lambda: len(_materials(system, case["id"])) >= 4, timeout=60, what="signature filed")
        kinds = sorted(m["kind"] for m in _materials(system, case["id"]))
        assert kinds == ["photo", "scan", "signature", "signature_strokes"]
        assert sent  # the simulator drew strokes

        # Every material's bytes, read back through the clerk's scoped API, match its hash.
        detail = http.get(f"/api/v1/cases/{case['id']}").json()
        for m in detail["materials"]:
            body = http.get(f"/api/v1/cases/{case['id']}/materials/{m['id']}/content").content
            assert hashlib.sha256(body).hexdigest() == m["sha256"]
        scan = next(m for m in detail["materials"] if m["kind"] == "scan")
        pdf = http.get(f"/api/v1/cases/{case['id']}/materials/{scan['id']}/content").content
        (system.root / "scan.pdf").write_bytes(pdf)
        info = subprocess.run(
            ["pdfinfo", str(system.root / "scan.pdf")], capture_output=True, check=True, text=True
        )
        assert re.search(r"^Pages:\s+10$", info.stdout, re.MULTILINE), info.stdout

        # Print the scanned PDF on the window's printer: the spool file is byte-identical.
        r = http.post(f"/api/v1/cases/{case['id']}/print", json={"material_id": scan["id"]})
        assert r.status_code == 202, r.text
        spool: Path = peers["printer"].spool_dir
        printed = wait_until(lambda: [p for p in spool.glob("*.pdf") if p.stat().st_size == len(pdf)],
                             timeout=60, what="print job spooled")  # fmt: skip
        assert printed[0].read_bytes() == pdf

        # A media jam: the job fails, and the printer shows degraded with its reason in /metrics.
        peers["printer"].set_faults("STATE: +media-jam", "ERROR: paper jam in tray 1", exit_code=1)
        r = http.post(f"/api/v1/cases/{case['id']}/print", json={"material_id": scan["id"]})
        assert r.status_code == 202, r.text

        def aborted() -> bool:
            events = system.api("GET", f"/api/v1/agents/{AGENT}/events?limit=500").json()["data"]
            return any(e["type"] == "print_job" and e["data"].get("state") == "aborted" for e in events)

        wait_until(aborted, timeout=60, what="the jammed job reported aborted")
        degraded = f'hallmesh_device_status{{agent="{AGENT}",device="printer-1",kind="printer",status="degraded"}} 1.0'
        wait_until(
            lambda: degraded in system.api("GET", "/metrics").text, timeout=60, what="printer degraded"
        )
