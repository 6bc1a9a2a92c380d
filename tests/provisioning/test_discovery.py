"""Discovery finders against real peers on loopback: the ONVIF simulator (unicast WS-Discovery), the signature pad
simulator on a pty, the SANE test backend (private config), ippeveprinter and the document camera simulator.
Nothing is sent multicast or broadcast: every finder gets only named loopback targets (``scan_system=False``).
"""

from __future__ import annotations

import asyncio
import os
import select
import socket
import threading
import tty
from collections.abc import Coroutine, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from provisioning.discovery import (
    DiscoveryOptions,
    Findings,
    device_identity,
    discover,
    find_ipp,
    find_onvif,
    find_sane,
    find_serial,
    find_video,
    ipp_uri,
    parse_host_port,
)
from simulators.doccam import DoccamSim, DoccamSimOptions
from simulators.ippeve import IppEvePrinter
from simulators.onvif_camera import OnvifCameraOptions, OnvifCameraSim
from simulators.sane_test import prepare
from simulators.sigpad import SigpadSim
from tests.support import free_port


@pytest.fixture(scope="module")
def camera() -> Iterator[OnvifCameraSim]:
    sim = OnvifCameraSim(OnvifCameraOptions(name="hall-cam", discovery=True, model="SimCam S1")).start()
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def printer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IppEvePrinter]:
    with IppEvePrinter(tmp_path_factory.mktemp("ipp")) as p:
        yield p


@pytest.fixture(scope="module")
def pad() -> Iterator[SigpadSim]:
    sim = SigpadSim().start()
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def doccam() -> Iterator[DoccamSim]:
    sim = DoccamSim(DoccamSimOptions(width=640, height=480)).start()
    yield sim
    sim.stop()


class GarbagePort:
    """A pty whose far end answers everything with bytes that are not the pad's protocol."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                try:
                    os.read(self.master, 1024)
                    # a false start (sync + header), then noise: a modem, a scale, a barcode reader …
                    os.write(
                        self.master, b"\xa5\x5a\x01\x00\x05\x00hello" + bytes(range(200, 240)) + b"OK\r\n"
                    )
                except OSError:
                    return

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        os.close(self.master)
        os.close(self.slave)


def run(coro: Coroutine[Any, Any, Findings]) -> Findings:
    return asyncio.run(coro)


# -- ONVIF ---------------------------------------------------------------------------------------------------


def test_onvif_unicast_probe_finds_the_camera_and_login_fills_the_model(camera: OnvifCameraSim) -> None:
    dead = ("127.0.0.1", free_port())
    found = run(
        find_onvif(
            [("127.0.0.1", camera.discovery_port), dead], username="admin", password="admin", timeout_s=1.0
        )
    )
    [cam] = found.candidates
    assert cam.kind == "onvif"
    assert cam.profile == "onvif-camera"
    assert cam.model == "hallmesh SimCam S1"
    assert cam.login_ok is True
    assert cam.settings == {
        "host": "127.0.0.1", "port": camera.port, "username": "admin", "password": "admin",
        "model": "hallmesh SimCam S1",
    }  # fmt: skip
    assert cam.as_json()["settings"]["password"] == "********"
    assert [(p.address, p.reason) for p in found.problems] == [
        (f"127.0.0.1:{dead[1]}", "no WS-Discovery answer in 1 s")
    ]


def test_onvif_without_or_with_wrong_credentials_is_still_a_candidate(camera: OnvifCameraSim) -> None:
    anonymous = run(find_onvif([("127.0.0.1", camera.discovery_port)], timeout_s=2.0))
    [cam] = anonymous.candidates
    assert cam.login_ok is None
    assert cam.profile == "onvif-camera"
    assert cam.model == "SimCam S1"  # from the hardware scope of the ProbeMatch
    assert "password" not in cam.settings
    wrong = run(find_onvif([("127.0.0.1", camera.discovery_port)], username="admin", password="nope"))
    [cam] = wrong.candidates
    assert cam.login_ok is False
    assert "password" not in cam.settings
    assert "login refused" in cam.note


def test_broken_ws_discovery_replies_are_counted_not_fatal() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)

    def answer() -> None:
        _data, addr = sock.recvfrom(65536)
        sock.sendto(b"<s:Envelope><unclosed", addr)

    t = threading.Thread(target=answer, daemon=True)
    t.start()
    try:
        found = run(find_onvif([("127.0.0.1", sock.getsockname()[1])], timeout_s=1.0))
    finally:
        t.join(5)
        sock.close()
    assert found.candidates == []
    assert found.bad_replies == {"onvif": 1}
    assert any("WS-Discovery reply" in p.reason for p in found.problems)


# -- serial --------------------------------------------------------------------------------------------------


def test_the_signature_pad_answers_info_and_garbage_is_reported(pad: SigpadSim) -> None:
    garbage = GarbagePort()
    try:
        found = run(find_serial([pad.path, garbage.path, "/dev/hallmesh-no-such-port"], scan_system=False))
    finally:
        garbage.close()
    [sp] = found.candidates
    assert (sp.kind, sp.profile, sp.model) == ("sigpad", "hallmesh-sigpad", "HM-SP100")
    assert sp.settings == {"port": pad.path, "baudrate": 115200, "model": "HM-SP100"}
    problems = {p.address: p.reason for p in found.problems}
    assert problems[garbage.path].startswith("no known device 未识别设备:")
    assert "garbage" in problems[garbage.path]
    assert problems["/dev/hallmesh-no-such-port"].startswith("cannot open")
    assert found.bad_replies.get("serial", 0) >= 1  # the false start's bad CRC


def test_a_silent_port_is_no_known_device() -> None:
    master, slave = os.openpty()
    tty.setraw(slave)
    try:
        found = run(find_serial([os.ttyname(slave)], scan_system=False, timeout_s=0.5))
    finally:
        os.close(master)
        os.close(slave)
    assert found.candidates == []
    assert [p.reason for p in found.problems] == ["no known device 未识别设备: no answer to INFO in 0.5 s"]


# -- SANE, IPP, video ----------------------------------------------------------------------------------------


def test_sane_test_backend_with_the_private_config(tmp_path: Path) -> None:
    cfg = prepare(tmp_path / "sane")
    found = run(find_sane(cfg.config_dir))
    assert [c.address for c in found.candidates] == ["test:0", "test:1"]
    scanner = found.candidates[0]
    assert (scanner.kind, scanner.profile) == ("scanner", "sane-scanner")
    assert scanner.facts == {"sane": {"vendor": "Noname", "model": "frontend-tester"}}
    assert scanner.settings["sane_config_dir"] == str(cfg.config_dir)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "dll.conf").write_text("")
    nothing = run(find_sane(empty))
    assert nothing.candidates == []
    assert [p.reason for p in nothing.problems] == ["no scanner found"]


class _Junk(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = b"\x01\x01\x00\x00\x00\x00\x00\x01\x04\x42\x00\xff"  # a value longer than the message
        self.send_response(200)
        self.send_header("Content-Type", "application/ipp")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


def test_ipp_printer_matched_and_bad_printers_reported(printer: IppEvePrinter) -> None:
    junk = ThreadingHTTPServer(("127.0.0.1", 0), _Junk)
    threading.Thread(target=junk.serve_forever, daemon=True).start()
    closed = free_port()
    try:
        found = run(
            find_ipp([f"localhost:{printer.port}", f"127.0.0.1:{junk.server_port}", f"127.0.0.1:{closed}"])
        )
    finally:
        junk.shutdown()
        junk.server_close()
    [p] = found.candidates
    assert (p.kind, p.profile, p.model) == ("printer", "ipp-everywhere-printer", "Hallmesh Test Printer")
    assert p.settings["uri"] == printer.uri
    assert "idle" in p.note
    assert "pdf" in p.note
    problems = {pr.address: pr.reason for pr in found.problems}
    assert problems[f"ipp://127.0.0.1:{junk.server_port}/ipp/print"].startswith("not a valid IPP answer")
    assert f"ipp://127.0.0.1:{closed}/ipp/print" in problems
    assert found.bad_replies == {"ipp": 1}


def test_network_document_camera_gives_its_frame_size(doccam: DoccamSim) -> None:
    dead = f"http://127.0.0.1:{free_port()}/video.mjpg"
    found = run(find_video([doccam.url, dead], scan_system=False))
    [cam] = found.candidates
    assert cam.kind == "doccam"
    assert cam.profile is None
    assert cam.settings == {
        "source": doccam.url,
        "model": "network document camera",
        "width": 640,
        "height": 480,
    }
    assert [p.address for p in found.problems] == [dead]


# -- all together --------------------------------------------------------------------------------------------


def test_discover_runs_every_finder_and_merges_duplicates(
    camera: OnvifCameraSim, printer: IppEvePrinter, pad: SigpadSim, tmp_path: Path
) -> None:
    cfg = prepare(tmp_path / "sane")
    lines: list[str] = []
    options = DiscoveryOptions(
        onvif_hosts=[("127.0.0.1", camera.discovery_port)],
        onvif_username="admin",
        onvif_password="admin",
        serial_ports=[pad.path],
        sane_config_dir=cfg.config_dir,
        ipp_hosts=[f"localhost:{printer.port}", f"127.0.0.1:{printer.port}"],  # the same printer twice
        scan_system=False,
    )
    found = asyncio.run(discover(options, lines.append))
    profiles = sorted((c.kind, c.profile) for c in found.candidates)
    assert profiles == [
        ("onvif", "onvif-camera"), ("printer", "ipp-everywhere-printer"), ("scanner", "sane-scanner"),
        ("scanner", "sane-scanner"), ("sigpad", "hallmesh-sigpad"),
    ]  # fmt: skip
    assert found.problems == []
    assert any(line.startswith("查找 looking for ONVIF") for line in lines)
    assert set(found.seconds) == {"onvif", "serial", "sane", "ipp"}  # no video: nothing named, no scan


def test_addresses_and_identities() -> None:
    assert ipp_uri("printer.local") == "ipp://printer.local:631/ipp/print"
    assert ipp_uri("10.0.0.5:8631/ipp/printer") == "ipp://10.0.0.5:8631/ipp/printer"
    assert ipp_uri("ipps://p:443/x") == "ipps://p:443/x"
    assert parse_host_port("cam7", 3702) == ("cam7", 3702)
    assert parse_host_port("[::1]:8000", 3702) == ("::1", 8000)
    with pytest.raises(ValueError, match="port"):
        parse_host_port("cam7:99999", 3702)
    same = device_identity("printer", {"uri": "ipp://127.0.0.1:8631/ipp/print"})
    assert same == device_identity("printer", {"uri": "ipp://localhost:8631/ipp/print"})
    assert device_identity("onvif", {"host": "h", "port": 80}) == device_identity("onvif", {"host": "h"})
