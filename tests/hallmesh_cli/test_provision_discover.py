"""`hallmesh provision discover` end to end: real peers on loopback (ONVIF simulator by unicast probe, the pad
simulator on a pty, the SANE test backend with a private config, ippeveprinter, the document camera simulator),
the CLI in a child process, the result checked with the agent's own config loader.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import threading
import tomllib
import tty
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from edge_agent.config import load_config
from hallmesh_cli.procs import hallmesh_argv
from simulators.doccam import DoccamSim, DoccamSimOptions
from simulators.ippeve import IppEvePrinter
from simulators.onvif_camera import OnvifCameraOptions, OnvifCameraSim
from simulators.sane_test import prepare
from simulators.sigpad import SigpadSim

BASE_CONFIG = """\
# the counter PC of window 7 (written by enroll)
agent_id = "yc-xq-w07-pc"
data_dir = "data"

[broker]
ca = "pki/ca.pem"
cert = "pki/agent.pem"
key = "pki/agent.key"

[[devices]]
id = "printer-1"   # a sim device already there: its id must stay, printer ids go on from 2
kind = "sim"
"""


@dataclass
class Peers:
    camera: OnvifCameraSim
    printer: IppEvePrinter
    pad: SigpadSim
    doccam: DoccamSim
    sane_dir: Path
    garbage_port: str


def _garbage(master: int, stop: threading.Event) -> None:
    while not stop.is_set():
        if select.select([master], [], [], 0.05)[0]:
            try:
                os.read(master, 1024)
                os.write(master, b"\r\nERROR unknown command\r\n" + bytes(range(128, 160)))
            except OSError:
                return


@pytest.fixture(scope="module")
def peers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Peers]:
    work = tmp_path_factory.mktemp("peers")
    camera = OnvifCameraSim(OnvifCameraOptions(name="hall-cam", discovery=True)).start()
    printer = IppEvePrinter(work / "ipp", job_seconds=0.2).start()
    pad = SigpadSim().start()
    doccam = DoccamSim(DoccamSimOptions(width=640, height=480)).start()
    master, slave = os.openpty()
    tty.setraw(slave)
    stop = threading.Event()
    t = threading.Thread(target=_garbage, args=(master, stop), daemon=True)
    t.start()
    try:
        yield Peers(camera, printer, pad, doccam, prepare(work / "sane").config_dir, os.ttyname(slave))
    finally:
        stop.set()
        t.join(2)
        os.close(master)
        os.close(slave)
        doccam.stop()
        pad.stop()
        printer.stop()
        camera.stop()


def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HALLMESH_", "SANE_"))}
    return subprocess.run(
        hallmesh_argv(*args), input=stdin, capture_output=True, text=True, timeout=60, env=env
    )


def discover_args(config: Path, p: Peers) -> list[str]:
    return [
        "provision", "discover", "--config", str(config), "--no-scan", "--timeout", "1",
        "--onvif-host", f"127.0.0.1:{p.camera.discovery_port}",
        "--serial", p.pad.path, "--serial", p.garbage_port,
        "--camera-url", p.doccam.url,
        "--sane-config", str(p.sane_dir),
        "--ipp-host", f"localhost:{p.printer.port}",
    ]  # fmt: skip


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(BASE_CONFIG)
    path.chmod(0o640)
    return path


def test_yes_writes_a_config_the_agent_accepts_and_a_rerun_adds_nothing(config: Path, peers: Peers) -> None:
    out = cli(*discover_args(config, peers), "--yes", "--onvif-user", "admin", "--onvif-password", "admin")
    assert out.returncode == 0, out.stderr
    table = out.stdout
    assert "类型 KIND" in table
    assert "配置 PROFILE" in table
    for profile in ("onvif-camera", "hallmesh-sigpad", "sane-scanner", "ipp-everywhere-printer"):
        assert profile in table
    assert f"serial  {peers.garbage_port}: no known device 未识别设备:" in table  # reported, no crash
    assert "looking for ONVIF" in out.stderr

    text = config.read_text()
    assert text.startswith(BASE_CONFIG)  # the enrolled content and its comments stay
    assert (config.parent / "agent.toml.bak").read_text() == BASE_CONFIG
    assert config.stat().st_mode & 0o777 == 0o640
    agent = load_config(config)  # what `hallmesh agent run` does first
    devices = {d.id: d.model_dump() for d in agent.devices}
    assert sorted(devices) == [
        "camera-1",
        "doccam-1",
        "printer-1",
        "printer-2",
        "scanner-1",
        "scanner-2",
        "sigpad-1",
    ]
    assert devices["printer-1"]["kind"] == "sim"
    cam = devices["camera-1"]
    assert cam["kind"] == "onvif"
    assert (cam["host"], cam["port"]) == ("127.0.0.1", peers.camera.port)
    assert cam["password"].get_secret_value() == "admin"
    assert devices["printer-2"]["uri"] == peers.printer.uri
    assert devices["scanner-1"]["device"] == "test:0"
    assert devices["scanner-1"]["sane_config_dir"] == peers.sane_dir
    assert devices["sigpad-1"]["port"] == peers.pad.path
    assert devices["doccam-1"]["source"] == peers.doccam.url
    assert "(hallmesh-sigpad)" in text

    again = cli(
        *discover_args(config, peers), "--json", "--yes", "--onvif-user", "admin", "--onvif-password", "admin"
    )
    assert again.returncode == 0, again.stderr
    result = json.loads(again.stdout)
    assert result["written"] is False
    states = {c["address"]: (c["state"], c["configured_as"]) for c in result["candidates"]}
    assert states[peers.printer.uri] == ("configured", "printer-2")
    assert states["test:1"] == ("configured", "scanner-2")
    assert {s for s, _ in states.values()} == {"configured"}
    assert config.read_text() == text


def test_interactive_accept_asks_per_device_and_for_the_camera_login(config: Path, peers: Peers) -> None:
    answers = [
        "y", "", "wrong-password", "admin", "admin",  # camera: yes; user admin (default), refused; then right
        "y",  # signature pad
        "n",  # document camera: no
        "n", "y",  # scanner test:0 no, test:1 yes
        "y",  # printer
    ]  # fmt: skip
    out = cli(*discover_args(config, peers), stdin="\n".join(answers) + "\n")
    assert out.returncode == 0, out.stderr
    assert "the camera refused the credentials" in out.stderr
    assert "✓ hallmesh SimCam S1: login ok" in out.stderr
    assert "跳过 skipped doccam" in out.stdout
    devices = {d.id: d.model_dump() for d in load_config(config).devices}
    assert sorted(devices) == ["camera-1", "printer-1", "printer-2", "scanner-1", "sigpad-1"]
    assert devices["scanner-1"]["device"] == "test:1"
    assert devices["camera-1"]["password"].get_secret_value() == "admin"


def test_json_dry_run_and_yes_without_a_camera_login_write_nothing_unasked(
    config: Path, peers: Peers
) -> None:
    listed = cli(*discover_args(config, peers), "--json")
    assert listed.returncode == 0, listed.stderr
    result = json.loads(listed.stdout)
    assert result["written"] is False
    by_kind = {c["kind"]: c for c in result["candidates"]}
    assert by_kind["onvif"]["login_ok"] is None
    assert by_kind["sigpad"]["profile"] == "hallmesh-sigpad"
    assert by_kind["doccam"]["profile"] == "unknown"
    assert result["bad_replies"].get("serial", 0) == 0  # plain text is garbage bytes, not corrupt frames
    assert [p["address"] for p in result["problems"]] == [peers.garbage_port]
    assert config.read_text() == BASE_CONFIG

    dry = cli(*discover_args(config, peers), "--yes", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "dry run: would add sigpad-1, doccam-1, scanner-1, scanner-2, printer-2" in dry.stdout
    assert "camera login not verified: pass --onvif-user and --onvif-password" in dry.stdout
    assert config.read_text() == BASE_CONFIG


def test_without_an_enrolled_config_it_says_so(tmp_path: Path) -> None:
    out = cli("provision", "discover", "--config", str(tmp_path / "agent.toml"), "--no-scan")
    assert out.returncode == 1
    assert "cannot read" in out.stderr
    assert "enroll first" in out.stderr


def test_toml_blocks_escape_what_devices_report_and_ids_fill_gaps() -> None:
    from hallmesh_cli.provision_discover import next_id, toml_block
    from provisioning.discovery import Candidate

    c = Candidate(
        kind="printer",
        finder="ipp",
        address="ipp://p:631/ipp/print",
        facts={},
        settings={"uri": "ipp://p:631/ipp/print", "model": 'Kyocera "ECOSYS" 打印机\\x\n', "job_poll_s": 0.5},
    )
    taken = {"printer-1", "printer-3", "camera-1"}
    assert next_id("printer", taken) == "printer-2"
    assert next_id("printer", taken) == "printer-4"
    assert next_id("onvif", taken) == "camera-2"
    data = tomllib.loads(toml_block("printer-2", c))
    assert data["devices"] == [
        {"id": "printer-2", "kind": "printer", "uri": "ipp://p:631/ipp/print",
         "model": 'Kyocera "ECOSYS" 打印机\\x\n', "job_poll_s": 0.5}
    ]  # fmt: skip
