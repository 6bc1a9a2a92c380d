"""The simulated signature pad, driven over its real pty with pyserial and the protocol module only."""

from __future__ import annotations

import itertools
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import pytest
import serial

from protocols.sigpad import (
    Button,
    Frame,
    FrameDecoder,
    FrameType,
    PadState,
    SeqCounter,
    encode_clear,
    encode_info_request,
    encode_resend,
    encode_start,
    encode_stop,
    parse_button,
    parse_info,
    parse_pen,
    parse_status,
)
from simulators.sigpad import SigpadSim, SigpadSimOptions, main, random_signature


class Host:
    """A minimal host on the pad's tty: writes commands, collects decoded frames."""

    def __init__(self, path: str) -> None:
        self.port = serial.Serial(path, 115_200, timeout=0.05)
        self.decoder = FrameDecoder()
        self.frames: list[Frame] = []
        self.seq = SeqCounter()

    def send(self, data: bytes) -> None:
        self.port.write(data)

    def until(self, predicate: Callable[[list[Frame]], bool], timeout: float = 10.0) -> list[Frame]:
        deadline = time.monotonic() + timeout
        while not predicate(self.frames):
            assert time.monotonic() < deadline, f"timed out; got {[f.type for f in self.frames]}"
            self.frames += self.decoder.feed(self.port.read(4096))
        return self.frames

    def of(self, ftype: FrameType) -> list[Frame]:
        return [f for f in self.frames if f.type == ftype]

    def close(self) -> None:
        self.port.close()


@pytest.fixture
def pad() -> Iterator[tuple[SigpadSim, Host]]:
    sim = SigpadSim().start()
    host = Host(sim.path)
    yield sim, host
    host.close()
    sim.stop()


def _statuses(host: Host) -> list[tuple[PadState, int, int]]:
    return [(s.state, s.session, s.samples) for s in map(parse_status, host.of(FrameType.STATUS))]


def test_info_start_sign_ok_stop(pad: tuple[SigpadSim, Host]) -> None:
    sim, host = pad
    assert sim.path.startswith("/dev/pts/")
    host.send(encode_info_request(host.seq()))
    host.until(lambda _f: bool(host.of(FrameType.INFO)))
    info = parse_info(host.of(FrameType.INFO)[0])
    assert (info.model, info.x_max, info.y_max, info.pressure_max) == ("HM-SP100", 10_000, 4_000, 1023)

    host.send(encode_start(host.seq(), 77))
    assert sim.wait_state(PadState.SIGNING) == 77
    sent = sim.sign_random(seed=5, strokes=3, points=15)
    n = sum(len(stroke) + 1 for stroke in sent)  # every stroke ends with a pen-up sample
    host.until(lambda _f: len(_statuses(host)) >= 3)  # signing ack, done, a repeat of done
    assert _statuses(host)[:3] == [(PadState.SIGNING, 77, 0), (PadState.DONE, 77, n), (PadState.DONE, 77, n)]
    presses = [parse_button(f) for f in host.of(FrameType.BUTTON)]
    assert [(p.button, p.samples) for p in presses] == [(Button.OK, n)]

    samples = [parse_pen(f) for f in host.of(FrameType.PEN)]
    assert [s.index for s in samples] == list(range(n))
    assert [s.down for s in samples].count(False) == 3  # one pen-up per stroke
    strokes: list[list[tuple[int, int, int, int]]] = [[]]
    for s in samples:
        if s.down:
            strokes[-1].append((s.x, s.y, s.pressure, s.t_ms))
        else:
            strokes.append([])
    assert strokes[:-1] == [[tuple(p) for p in stroke] for stroke in sent]

    host.send(encode_stop(host.seq()))
    sim.wait_state(PadState.IDLE)
    host.until(lambda _f: _statuses(host)[-1][0] is PadState.IDLE)


def test_resend_clear_and_ink_on_an_idle_pad(pad: tuple[SigpadSim, Host]) -> None:
    sim, host = pad
    sent = sim.sign_random(seed=1, strokes=1, points=10, ok=False)  # no START: session 0
    assert sim.state is PadState.SIGNING
    assert sim.session == 0
    n = len(sent[0]) + 1
    host.until(lambda _f: len(host.of(FrameType.PEN)) == n)
    host.send(encode_resend(host.seq(), 2, 3))
    host.until(lambda _f: len(host.of(FrameType.PEN)) == n + 3)
    pens = [parse_pen(f) for f in host.of(FrameType.PEN)]
    assert pens[n:] == pens[2:5]  # the very same samples again

    host.send(encode_clear(host.seq()))
    host.until(lambda _f: _statuses(host)[-1] == (PadState.SIGNING, 0, 0))
    sim.press_cancel()
    host.until(lambda _f: _statuses(host)[-1] == (PadState.IDLE, 0, 0))
    assert parse_button(host.of(FrameType.BUTTON)[-1]).button is Button.CANCEL


def test_output_is_paced_at_the_baud_rate() -> None:
    sim = SigpadSim(SigpadSimOptions(baudrate=19_200)).start()
    host = Host(sim.path)
    try:
        sim.flush()
        before, started = sim.bytes_sent, time.monotonic()
        sim.sign_random(seed=3, strokes=2, points=20)  # returns once the bytes are on the line
        elapsed = time.monotonic() - started
        sent = sim.bytes_sent - before
        assert sent > 800
        assert elapsed >= 0.95 * sent * 10 / 19_200  # never faster than 10 bits per byte
    finally:
        host.close()
        sim.stop()


def test_noise_is_injected_and_frames_still_come_through() -> None:
    sim = SigpadSim(SigpadSimOptions(noise_between=0.5, noise_seed=4)).start()
    host = Host(sim.path)
    try:
        sent = sim.sign_random(seed=2, strokes=2, points=12)
        sim.inject(b"\x00\xa5\x5a\xff")
        host.until(lambda _f: bool(host.of(FrameType.BUTTON)))
        assert sim.garbage_sent > 0
        assert len(host.of(FrameType.PEN)) == sum(len(s) + 1 for s in sent)
        assert host.decoder.garbage_bytes > 0
    finally:
        host.close()
        sim.stop()


def test_random_signatures_look_human() -> None:
    a = random_signature(8, strokes=3, points=40)
    assert a == random_signature(8, strokes=3, points=40)
    assert a != random_signature(9, strokes=3, points=40)
    points = [p for stroke in a for p in stroke]
    assert all(0 <= p.x <= 10_000 and 0 <= p.y <= 4_000 and 1 <= p.pressure <= 1023 for p in points)
    times = [p.t_ms for p in points]
    assert times == sorted(set(times))  # strictly increasing
    assert len({p.pressure for p in points}) > len(points) // 2  # pressure varies
    for stroke in a:  # smooth: no jumps across the pad between two samples 5 ms apart
        assert all(abs(q.x - p.x) < 1500 and abs(q.y - p.y) < 1500 for p, q in itertools.pairwise(stroke))
    gaps = [b[0].t_ms - a_[-1].t_ms for a_, b in itertools.pairwise(a)]
    assert all(gap >= 80 for gap in gaps)  # the pen travels in the air between strokes


def test_unplug_closes_the_port(pad: tuple[SigpadSim, Host]) -> None:
    sim, host = pad
    sim.unplug()

    def read_on() -> None:
        for _ in range(50):
            host.port.read(10)

    with pytest.raises(serial.SerialException):
        read_on()


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "tty path" in capsys.readouterr().out


def test_command_line_prints_the_tty_and_stops_on_sigterm() -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "simulators.sigpad", "--sign-every", "0.2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            path = proc.stdout.readline().strip()
            assert path.startswith("/dev/pts/")
            host = Host(path)
            try:
                host.until(lambda _f: bool(host.of(FrameType.BUTTON)))
            finally:
                host.close()
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(10) == 0
