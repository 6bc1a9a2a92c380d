"""The terminal simulator over real TCP: hello, dial, stats, drop, failures, bad requests; loopback only."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from protocols.terminal import CallState, LineSplitter
from simulators.terminal import TerminalSim, TerminalSimOptions


class Conn:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.splitter = LineSplitter()
        self.lines: list[bytes] = []

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def until(self, prefix: bytes, timeout: float = 5.0) -> bytes:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i, line in enumerate(self.lines):
                if line.startswith(prefix):
                    del self.lines[: i + 1]
                    return line
            data = self.sock.recv(4096)
            assert data, "connection closed"
            self.lines += self.splitter.feed(data)
        raise AssertionError(f"no line starting with {prefix!r}")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def conns() -> Iterator[list[Conn]]:
    opened: list[Conn] = []
    yield opened
    for c in opened:
        c.close()


@pytest.fixture
def sim() -> Iterator[TerminalSim]:
    s = TerminalSim(TerminalSimOptions(connect_delay_s=0.05, stats_interval_s=0.05)).start()
    yield s
    s.stop()


def test_listens_on_loopback_only(sim: TerminalSim) -> None:
    assert sim._server is not None
    assert {s.getsockname()[0] for s in sim._server.sockets} == {"127.0.0.1"}


def test_dial_stats_drop_and_hangup(sim: TerminalSim, conns: list[Conn]) -> None:
    c = Conn(sim.port)
    conns.append(c)
    assert c.until(b"* HELLO").startswith(b"* HELLO proto=1 model=HM-VT100")
    c.send(b"1 DIAL address=main@mcu\n")
    assert c.until(b"* CALL") == b"* CALL state=dialing address=main@mcu"
    assert c.until(b"1 ") == b"1 OK state=dialing"
    assert c.until(b"* CALL") == b"* CALL state=connected address=main@mcu"
    sim.set_quality(loss_pct=7.5)
    assert c.until(b"* STATS bitrate_kbps=1920 loss_pct=7.5 jitter_ms=8")
    c.send(b"2 STATUS\n")
    assert b"call=connected" in c.until(b"2 OK")
    c.send(b"3 DIAL address=other@mcu\n")
    assert c.until(b"3 ").startswith(b"3 ERR code=busy")
    sim.drop_call()
    assert c.until(b"* CALL") == b"* CALL state=idle reason=remote"
    c.send(b"4 HANGUP\n")
    assert c.until(b"4 ").startswith(b"4 ERR code=not_in_call")
    assert sim.status().call is CallState.IDLE
    assert sim.history[-1] == ("idle", "remote")


def test_failed_dials_mute_preset_and_bad_requests(sim: TerminalSim, conns: list[Conn]) -> None:
    c = Conn(sim.port)
    conns.append(c)
    sim.fail_next_dials(1)
    c.send(b"1 DIAL address=main@mcu\n")
    assert c.until(b"* CALL state=idle") == b"* CALL state=idle reason=failed"
    c.send(b"2 MUTE on=1\n3 PRESET n=4\n4 PRESET n=99\n5 FLY\n\xff\xfe\n6 DIAL\n")
    assert c.until(b"* MUTE") == b"* MUTE on=1"
    assert c.until(b"2 ") == b"2 OK on=1"
    assert c.until(b"3 ") == b"3 OK n=4"
    assert c.until(b"4 ").startswith(b"4 ERR code=bad_request")
    assert c.until(b"5 ").startswith(b"5 ERR code=unknown_verb")
    assert c.until(b"0 ERR").startswith(b"0 ERR code=bad_request")
    assert c.until(b"6 ").startswith(b"6 ERR code=bad_request")
    assert sim.status().muted
    assert sim.status().preset == 4
    assert sim.bad_lines == 1
    sim.set_muted(False)
    assert c.until(b"* MUTE") == b"* MUTE on=0"
