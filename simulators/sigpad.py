"""A simulated signature pad on a pty pair, speaking ``hallmesh-sigpad-v1`` (protocols/sigpad.py).

The pad owns the master side of :func:`os.openpty`; the driver opens the slave path (``sim.path``, e.g.
``/dev/pts/7``) with pyserial. A pty does not enforce a baud rate, so the pad paces what it sends itself:
10 bits per byte (8N1) at ``baudrate``. ::

    sim = SigpadSim(SigpadSimOptions(noise_between=0.2, noise_inside=0.05)).start()
    sim.path                              # the tty to configure as the driver's ``port``
    sim.wait_state(PadState.SIGNING)      # the host sent START (a ``sign`` command is waiting)
    strokes = sim.sign_random(seed=7)     # draws a human-like signature and presses OK; returns what it sent
    sim.sign(strokes, ok=False); sim.press_ok()
    sim.inject(b"\\x00\\xff")              # raw bytes on the line
    sim.silence()                         # the pad hangs: it no longer answers the host
    sim.unplug()                          # the port vanishes (the driver sees it as lost)
    sim.stop()

``python -m simulators.sigpad --help`` runs one from the shell and prints its tty path.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import queue
import random
import select
import signal
import sys
import threading
import time
import tty
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from protocols.sigpad import (
    DONE_REPEAT_S,
    Button,
    Frame,
    FrameDecoder,
    FrameType,
    Info,
    PadState,
    PenSample,
    SeqCounter,
    SigpadPayloadError,
    Status,
    encode_button,
    encode_info,
    encode_pen,
    encode_status,
    parse_resend,
    parse_start,
)

SAMPLE_PERIOD_MS = 5
"""The pad samples the pen at 200 Hz."""


class StrokePoint(NamedTuple):
    x: int
    y: int
    pressure: int
    t_ms: int


Stroke = list[StrokePoint]


@dataclass(frozen=True)
class SigpadSimOptions:
    baudrate: int = 115_200
    model: str = "HM-SP100"
    firmware: str = "1.0.0-sim"
    x_max: int = 10_000
    y_max: int = 4_000
    pressure_max: int = 1023
    realtime: bool = False
    """Also wait for each sample's ``t_ms`` (as a hand would); otherwise only the baud rate paces."""
    noise_between: float = 0.0
    """Probability, per frame, of 1–8 garbage bytes on the line before it."""
    noise_inside: float = 0.0
    """Probability, per frame, of garbage bytes inside it (the frame is lost; the host recovers it)."""
    noise_seed: int = 0


def random_signature(
    seed: int, strokes: int = 2, points: int = 20, x_max: int = 10_000, y_max: int = 4_000, p_max: int = 1023
) -> list[Stroke]:
    """A human-like signature: smooth strokes left to right, pressure rising and fading, 200 Hz samples."""
    rng = random.Random(seed)
    out: list[Stroke] = []
    t = 0
    x0 = x_max * rng.uniform(0.05, 0.15)
    width = x_max * 0.8 / max(strokes, 1)
    for _ in range(strokes):
        n = max(2, points + rng.randint(-points // 4, points // 4))
        amp, freq, phase = rng.uniform(0.1, 0.3) * y_max, rng.uniform(1.0, 3.0), rng.uniform(0, math.tau)
        loop = rng.uniform(0.02, 0.08) * x_max
        base_y, peak = y_max * rng.uniform(0.4, 0.6), rng.uniform(0.55, 0.95)
        stroke: Stroke = []
        for i in range(n):
            u = i / (n - 1)
            speed = u + 0.08 * math.sin(math.tau * 2 * u)  # the hand speeds up and slows down
            x = x0 + width * 0.85 * speed + loop * math.sin(math.tau * freq * u + phase)
            y = base_y + amp * math.sin(math.tau * freq * u * 0.7 + phase) + rng.gauss(0, y_max * 0.002)
            pressure = p_max * peak * math.sin(math.pi * (0.1 + 0.8 * u)) + rng.gauss(0, p_max * 0.02)
            stroke.append(
                StrokePoint(
                    min(max(round(x), 0), x_max),
                    min(max(round(y), 0), y_max),
                    min(max(round(pressure), 1), p_max),
                    t,
                )
            )
            t += SAMPLE_PERIOD_MS
        out.append(stroke)
        x0 += width
        t += rng.randint(80, 250)  # the pen in the air between strokes
    return out


class SigpadSim:
    def __init__(self, options: SigpadSimOptions | None = None) -> None:
        self.options = o = options or SigpadSimOptions()
        self.info = Info(o.x_max, o.y_max, o.pressure_max, o.model, o.firmware)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._state = PadState.IDLE
        self._session = 0
        self._samples: list[PenSample] = []
        self._seq = SeqCounter()
        self._rng = random.Random(o.noise_seed)
        self._tx: queue.Queue[bytes | threading.Event] = queue.Queue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._master = -1
        self._slave = -1
        self.path = ""
        self.decoder = FrameDecoder()
        self._silent = False
        self.commands: list[FrameType] = []
        self.garbage_sent = 0
        self.bytes_sent = 0

    # -- life cycle --------------------------------------------------------------------------------------

    def start(self) -> SigpadSim:
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.path = os.ttyname(self._slave)
        for target, name in ((self._rx_main, "rx"), (self._tx_main, "tx")):
            thread = threading.Thread(target=target, name=f"sigpad-sim-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        self._send_info()
        return self

    def unplug(self) -> None:
        """The pad is pulled out: both ends of the pty close, so the driver's port is gone."""
        self._stop.set()
        self._tx.put(threading.Event())  # wakes the sender
        for thread in self._threads:
            thread.join(5)
        self._threads.clear()
        for fd in (self._master, self._slave):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = -1

    def stop(self) -> None:
        self.unplug()

    # -- what a person does at the pad (thread-safe; each call returns once its bytes are on the line) ---

    def sign(self, strokes: Sequence[Sequence[StrokePoint]], ok: bool = True) -> list[Stroke]:
        """Draw ``strokes`` (then press OK); returns exactly the points sent, ``t_ms`` shifted after earlier ink."""
        sent: list[Stroke] = []
        began = time.monotonic()
        with self._lock:
            if self._state is PadState.DONE:
                raise RuntimeError("the pad waits for STOP after OK; it takes no ink")
            if self._state is PadState.IDLE:  # ink on an idle pad: a signature started on the device
                self._set(PadState.SIGNING, 0)
                self._send_status()
            shift = self._samples[-1].t_ms + SAMPLE_PERIOD_MS * 10 if self._samples else 0
        for stroke in strokes:
            points = [p._replace(t_ms=p.t_ms + shift) for p in stroke]
            if not points:
                continue
            for p in points:
                if self.options.realtime:
                    delay = began + (p.t_ms - shift) / 1000 - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                self._pen(p.x, p.y, p.pressure, True, p.t_ms)
            last = points[-1]
            self._pen(last.x, last.y, 0, False, last.t_ms + SAMPLE_PERIOD_MS)
            sent.append(points)
        if ok:
            self.press_ok()
        else:
            self.flush()
        return sent

    def sign_random(self, seed: int, strokes: int = 2, points: int = 20, ok: bool = True) -> list[Stroke]:
        o = self.options
        return self.sign(random_signature(seed, strokes, points, o.x_max, o.y_max, o.pressure_max), ok)

    def press_ok(self) -> None:
        with self._lock:
            self._send(encode_button(self._seq(), Button.OK, len(self._samples)))
            if self._state is PadState.SIGNING and self._samples:
                self._set(PadState.DONE, self._session)
                self._send_status()
        self.flush()

    def press_clear(self) -> None:
        with self._lock:
            self._send(encode_button(self._seq(), Button.CLEAR, 0))
            if self._state is not PadState.IDLE:
                self._set(PadState.SIGNING, self._session)
                self._send_status()
        self.flush()

    def press_cancel(self) -> None:
        with self._lock:
            self._send(encode_button(self._seq(), Button.CANCEL, len(self._samples)))
            self._set(PadState.IDLE, 0)
            self._send_status()
        self.flush()

    def silence(self, on: bool = True) -> None:
        """A hung pad: it ignores every command from the host (and keeps its line quiet) until unsilenced."""
        self._silent = on

    def inject(self, data: bytes) -> None:
        """Raw bytes on the line (noise, a half frame, anything)."""
        self.garbage_sent += len(data)
        self._tx.put(data)
        self.flush()

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until everything queued so far is on the line."""
        marker = threading.Event()
        self._tx.put(marker)
        if not marker.wait(timeout) and not self._stop.is_set():
            raise TimeoutError("the pad could not send its bytes (is anyone reading the port?)")

    def wait_state(self, state: PadState, timeout: float = 10.0) -> int:
        """Block until the pad is in ``state``; returns the session id."""
        with self._changed:
            if not self._changed.wait_for(lambda: self._state is state, timeout):
                raise TimeoutError(f"the pad did not become {state.name} within {timeout} s")
            return self._session

    @property
    def state(self) -> PadState:
        return self._state

    @property
    def session(self) -> int:
        return self._session

    # -- internals (callers hold the lock where state is touched) ----------------------------------------

    def _set(self, state: PadState, session: int) -> None:
        if state is not PadState.DONE:
            self._samples = []
        self._state, self._session = state, session
        self._changed.notify_all()

    def _pen(self, x: int, y: int, pressure: int, down: bool, t_ms: int) -> None:
        with self._lock:
            sample = PenSample(len(self._samples), x, y, pressure, down, t_ms)
            self._samples.append(sample)
            self._send(encode_pen(self._seq(), sample))

    def _send_status(self) -> None:
        self._send(encode_status(self._seq(), Status(self._state, self._session, len(self._samples))))

    def _send_info(self) -> None:
        with self._lock:
            self._send(encode_info(self._seq(), self.info))

    def _send(self, frame: bytes) -> None:
        o, rng = self.options, self._rng
        if o.noise_between and rng.random() < o.noise_between:
            self._tx.put(self._garbage())
        if o.noise_inside and rng.random() < o.noise_inside:
            cut = rng.randint(1, len(frame) - 1)
            frame = frame[:cut] + self._garbage() + frame[cut:]
        self._tx.put(frame)

    def _garbage(self) -> bytes:
        rng = self._rng
        junk = rng.randbytes(rng.randint(1, 8))
        if rng.random() < 0.3:  # a false start: sync and a plausible header
            junk = (
                b"\xa5\x5a"
                + bytes([rng.choice((1, 2, 3, 4)), rng.randint(0, 255), rng.randint(0, 64), 0])
                + junk
            )
        self.garbage_sent += len(junk)
        return junk

    def _handle(self, frame: Frame) -> None:
        with self._lock:
            if frame.type in FrameType.__members__.values():
                self.commands.append(FrameType(frame.type))
            if frame.type == FrameType.INFO_REQ:
                self._send(encode_info(self._seq(), self.info))
            elif frame.type == FrameType.START:
                session = parse_start(frame)
                if self._state is PadState.IDLE or self._session != session:
                    self._set(PadState.SIGNING, session)
                self._send_status()
            elif frame.type == FrameType.CLEAR:
                if self._state is not PadState.IDLE:
                    self._set(PadState.SIGNING, self._session)
                self._send_status()
            elif frame.type == FrameType.STOP:
                self._set(PadState.IDLE, 0)
                self._send_status()
            elif frame.type == FrameType.RESEND:
                first, count = parse_resend(frame)
                for sample in self._samples[first : first + count]:
                    self._send(encode_pen(self._seq(), sample))

    def _rx_main(self) -> None:
        last_done = 0.0
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self._master], [], [], 0.05)
                data = os.read(self._master, 4096) if ready else b""
            except OSError:
                data = b""  # no reader on the slave side yet
                time.sleep(0.05)
            for frame in self.decoder.feed(data) if data else self.decoder.expire():
                if not self._silent:
                    with contextlib.suppress(SigpadPayloadError):
                        self._handle(frame)
            now = time.monotonic()
            with self._lock:
                if self._state is PadState.DONE and not self._silent and now - last_done >= DONE_REPEAT_S:
                    last_done = now
                    self._send_status()

    def _tx_main(self) -> None:
        clock = time.monotonic()
        per_byte = 10 / self.options.baudrate
        while not self._stop.is_set():
            item = self._tx.get()
            if isinstance(item, threading.Event):
                item.set()
                continue
            view = memoryview(item)
            while view and not self._stop.is_set():
                try:
                    _, writable, _ = select.select([], [self._master], [], 0.1)
                    n = os.write(self._master, view) if writable else 0
                except (BlockingIOError, InterruptedError):
                    n = 0
                except OSError:
                    return
                view = view[n:]
                self.bytes_sent += n
                clock = max(clock, time.monotonic()) + n * per_byte
                delay = clock - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
        while not self._tx.empty():  # release anyone waiting on a flush
            item = self._tx.get_nowait()
            if isinstance(item, threading.Event):
                item.set()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m simulators.sigpad",
        description="A simulated hallmesh signature pad on a pty; prints the tty path to configure as the "
        "sigpad driver's port, then runs until interrupted.",
    )
    parser.add_argument("--baudrate", type=int, default=115_200, help="pace output at this baud (8N1)")
    parser.add_argument("--model", default="HM-SP100")
    parser.add_argument("--noise", type=float, default=0.0, help="probability of garbage before each frame")
    parser.add_argument("--sign-every", type=float, default=0.0, metavar="S",
                        help="draw a random signature and press OK every S seconds (0 = never)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=1, help="seed of the first random signature")
    parser.add_argument("--link", help="also make this symlink to the tty (a stable name for the config)")
    args = parser.parse_args(argv)
    options = SigpadSimOptions(baudrate=args.baudrate, model=args.model, noise_between=args.noise)
    sim = SigpadSim(options).start()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    if args.link:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(args.link)
        os.symlink(sim.path, args.link)
    print(sim.path, flush=True)
    seed = args.seed
    try:
        while not stop.wait(args.sign_every or None):
            if sim.state is not PadState.DONE:
                sim.sign_random(seed)
                print(f"signed (seed {seed})", file=sys.stderr, flush=True)
                seed += 1
    finally:
        sim.stop()
        if args.link:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(args.link)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
