"""The ``sigpad`` driver: a signature pad on a serial port, speaking ``hallmesh-sigpad-v1`` (protocols/sigpad.py).

Serial I/O never blocks the event loop: a reader thread hands the bytes to the loop, writes run in the
default executor. Bad bytes on the line are only counted (frames, CRC errors, garbage bytes); frames lost
to noise are asked for again (RESEND) before a signature is taken.

Health (poll): ``up`` while the pad answers INFO; ``degraded`` when it misses an answer; ``down`` (the
poll raises, so the supervisor restarts the driver) when the port is gone or the pad has not answered for
``missed_polls_down`` polls. Readings: ``frames_total``, ``crc_errors_total``, ``garbage_bytes_total``,
``signatures_total``.

Commands:
    sign    -- ``{case?, signs?, timeout_s?}``: START a session, wait for the signer's OK, then hand the
               strokes (JSON, kind ``signature_strokes``) and their picture (PNG, kind ``signature``) to the
               capture pipeline; returns both refs. ``signs`` is the sha256 of the material being signed.
    clear   -- wipe the ink on the pad (a running signature starts over); returns once the pad confirms
    cancel  -- end a running ``sign`` (it fails with "cancelled") and send the pad back to idle

An OK pressed on the pad with no ``sign`` running is a signature started on the device: it is captured
with no case, and the coordinator files it into the window's open case.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import json
import logging
import queue
import random
import re
import threading
from dataclasses import dataclass, field
from typing import Annotated, Literal

import serial
from PIL import Image, ImageDraw
from pydantic import Field, JsonValue

from edge_agent.drivers.base import (
    Capture,
    CaptureRef,
    DeviceConfigBase,
    Driver,
    EmitFn,
    Health,
    Reading,
    Seconds,
    case_arg,
)
from edge_agent.errors import BadArguments, DeviceError, UnknownAction
from protocols.messages import DeviceInfo, DeviceStatus
from protocols.sigpad import (
    Button,
    ButtonPress,
    Frame,
    FrameDecoder,
    FrameType,
    Info,
    PadState,
    PenSample,
    SeqCounter,
    SigpadPayloadError,
    Status,
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

log = logging.getLogger(__name__)

STROKES_FORMAT = "hallmesh-strokes-v1"
PROFILE, PROFILE_VERSION = "hallmesh-sigpad", "1"
"""The device profile of this pad (device_profiles/profiles/hallmesh-sigpad.yaml)."""
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_RESEND_EVERY_S = 0.3
_MAX_RESENDS = 30
_INK = (16, 24, 96)


_Outgoing = queue.Queue[tuple[bytes, asyncio.Future[None]] | None]


def _resolve(done: asyncio.Future[None]) -> None:
    if not done.done():
        done.set_result(None)


class SigpadConfig(DeviceConfigBase):
    kind: Literal["sigpad"] = "sigpad"
    model: Annotated[str, Field(max_length=128)] = "hallmesh-sigpad"
    port: Annotated[str, Field(min_length=1, max_length=256, description="serial device, e.g. /dev/ttyUSB0")]
    baudrate: Annotated[int, Field(ge=1200, le=4_000_000)] = 115_200
    info_timeout_s: Seconds = Field(1.0, description="how long the pad has to answer INFO")
    missed_polls_down: Annotated[int, Field(ge=1, le=100)] = 3
    start_timeout_s: Seconds = Field(3.0, description="how long the pad has to acknowledge START")
    sign_timeout_s: Seconds = Field(120.0, description="default time the signer has, until OK")
    render_width_px: Annotated[int, Field(ge=64, le=4096)] = 600


@dataclass
class _Pending:
    session: int
    done: asyncio.Future[list[PenSample]]
    acked: bool = False


@dataclass
class _Ink:
    """The samples of the signature on the pad, by index, and how many there are once OK was pressed."""

    samples: dict[int, PenSample] = field(default_factory=dict)
    total: int | None = None
    session: int | None = None
    resends: int = 0

    def missing(self) -> list[int]:
        return [i for i in range(self.total or 0) if i not in self.samples]


def _ranges(indices: list[int]) -> list[tuple[int, int]]:
    """Consecutive runs of sorted indices as (first, count)."""
    out: list[tuple[int, int]] = []
    for i in indices:
        if out and out[-1][0] + out[-1][1] == i:
            out[-1] = (out[-1][0], out[-1][1] + 1)
        else:
            out.append((i, 1))
    return out


def strokes_of(samples: list[PenSample]) -> list[list[PenSample]]:
    """Pen-down samples grouped into strokes; a pen-up sample ends a stroke."""
    strokes: list[list[PenSample]] = []
    current: list[PenSample] = []
    for s in samples:
        if s.down:
            current.append(s)
        elif current:
            strokes.append(current)
            current = []
    if current:
        strokes.append(current)
    return strokes


def strokes_json(strokes: list[list[PenSample]], info: Info, session: int, signs: str | None) -> bytes:
    doc = {
        "format": STROKES_FORMAT,
        "device": {
            "model": info.model,
            "firmware": info.firmware,
            "x_max": info.x_max,
            "y_max": info.y_max,
            "pressure_max": info.pressure_max,
        },
        "session": session,
        "signs": signs,
        "duration_ms": strokes[-1][-1].t_ms if strokes else 0,
        "strokes": [
            {"points": [{"x": p.x, "y": p.y, "pressure": p.pressure, "t_ms": p.t_ms} for p in stroke]}
            for stroke in strokes
        ],
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def render_png(strokes: list[list[PenSample]], info: Info, width: int) -> bytes:
    """Ink on white, the line width following the pen pressure (1–6 px at 600 px wide)."""
    scale = (width - 20) / info.x_max
    height = max(round(info.y_max * scale) + 20, 32)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    pen = max(width / 600, 0.5)

    def at(p: PenSample) -> tuple[float, float]:
        return (10 + p.x * scale, 10 + p.y * scale)

    def size(p: PenSample) -> float:
        return pen * (1 + 5 * p.pressure / info.pressure_max)

    for stroke in strokes:
        for a, b in itertools.pairwise(stroke):
            w = (size(a) + size(b)) / 2
            draw.line([at(a), at(b)], fill=_INK, width=max(1, round(w)))
        for p in stroke:  # round joins (and a dot for a one-sample stroke)
            (x, y), r = at(p), size(p) / 2
            draw.ellipse([x - r, y - r, x + r, y + r], fill=_INK)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _ref(ref: CaptureRef) -> dict[str, JsonValue]:
    return {"sha256": ref.sha256, "size": ref.size, "media_type": ref.media_type}


class SigpadDriver(Driver[SigpadConfig]):
    kind = "sigpad"
    COMMANDS = ("sign", "clear", "cancel")

    def __init__(self, config: SigpadConfig, emit: EmitFn) -> None:
        super().__init__(config, emit)
        self._serial: serial.Serial | None = None
        self._reader: threading.Thread | None = None
        self._closing = threading.Event()
        self._writer: threading.Thread | None = None
        self._out: _Outgoing | None = None
        self._stop_owed = False
        self._seq = SeqCounter()
        self.decoder = FrameDecoder()
        self.bad_payloads = 0
        self.signatures = 0
        self.info: Info | None = None
        self._info_waiters: list[asyncio.Future[Info]] = []
        self._start_waiters: dict[int, asyncio.Future[None]] = {}
        self._clear_waiters: list[asyncio.Future[None]] = []
        self._lost: str | None = None
        self._missed = 0
        self._ink = _Ink()
        self._finishing = False  # a signature was taken; ignore the pad until it acknowledges STOP
        self._pending: _Pending | None = None
        self._next_session = random.randrange(1, 1 << 30)
        self._tasks: set[asyncio.Task[None]] = set()
        self._recheck: asyncio.TimerHandle | None = None

    # -- contract ----------------------------------------------------------------------------------------

    async def connect(self) -> None:
        await self.close()
        loop = asyncio.get_running_loop()
        c = self.config
        try:
            ser = await loop.run_in_executor(
                None, lambda: serial.Serial(c.port, c.baudrate, timeout=0.1, write_timeout=2)
            )
        except (serial.SerialException, OSError, ValueError) as err:
            raise DeviceError(f"cannot open {c.port}: {err}") from err
        self._serial, self._lost, self._missed = ser, None, 0
        self._ink, self._finishing = _Ink(), False
        self._closing.clear()
        self._reader = threading.Thread(
            target=self._read_loop, args=(ser, loop), daemon=True, name="sigpad-rx"
        )
        self._reader.start()
        self._out = queue.Queue()
        self._writer = threading.Thread(
            target=self._write_loop, args=(ser, loop, self._out), daemon=True, name="sigpad-tx"
        )
        self._writer.start()
        for _ in range(3):
            if await self._ask_info():
                return
        await self.close()
        raise DeviceError(f"no signature pad answers on {c.port}")

    async def close(self) -> None:
        if self._recheck is not None:
            self._recheck.cancel()
            self._recheck = None
        if self._tasks:  # device-initiated captures under way: let them reach the spool
            await asyncio.wait(self._tasks, timeout=5)
            for task in self._tasks:
                task.cancel()
        self._fail_pending(DeviceError("the driver was closed"))
        ser, self._serial = self._serial, None
        reader, self._reader = self._reader, None
        writer, self._writer = self._writer, None
        out, self._out = self._out, None
        self._closing.set()
        if out is not None:
            out.put(None)
        if writer is not None:
            await asyncio.to_thread(writer.join, 3)
        if ser is not None:
            with contextlib.suppress(Exception):
                ser.cancel_read()
        if reader is not None:
            await asyncio.to_thread(reader.join, 2)
        if ser is not None:
            with contextlib.suppress(Exception):
                ser.close()

    def describe(self) -> DeviceInfo:
        return DeviceInfo(
            id=self.device_id,
            kind=self.kind,
            model=self.info.model if self.info else self.config.model,
            profile=PROFILE,
            profile_version=PROFILE_VERSION,
            capabilities=["telemetry", "events", "capture", "signature"],
            commands=list(self.COMMANDS),
        )

    async def poll(self) -> Health:
        if self._lost is not None:
            raise DeviceError(self._lost)
        if self._serial is None:
            raise DeviceError("not connected")
        answered = await self._ask_info()
        d = self.decoder
        readings = (
            Reading("frames_total", float(d.frames)),
            Reading("crc_errors_total", float(d.crc_errors)),
            Reading("garbage_bytes_total", float(d.garbage_bytes), "By"),
            Reading("signatures_total", float(self.signatures)),
        )
        if answered:
            self._missed = 0
            return Health(DeviceStatus.UP, "", readings)
        self._missed += 1
        reason = f"the pad on {self.config.port} did not answer INFO within {self.config.info_timeout_s:g} s"
        if self._missed >= self.config.missed_polls_down:
            raise DeviceError(f"{reason} ({self._missed} polls in a row)")
        return Health(DeviceStatus.DEGRADED, reason, readings)

    async def execute(self, action: str, args: dict[str, JsonValue]) -> dict[str, JsonValue]:
        if action == "sign":
            return await self._sign(args)
        if action == "clear":
            await self._clear()
            return {"cleared": True}
        if action == "cancel":
            running = self._pending is not None
            self._fail_pending(DeviceError("cancelled by a cancel command"))
            await self._write(encode_stop(self._seq()))
            return {"cancelled": running}
        raise UnknownAction(f"signature pad has no action {action!r}")

    # -- sign --------------------------------------------------------------------------------------------

    async def _sign(self, args: dict[str, JsonValue]) -> dict[str, JsonValue]:
        case, signs, cmd_id = case_arg(args), args.get("signs"), args.get("cmd_id")
        timeout = args.get("timeout_s", self.config.sign_timeout_s)
        if signs is not None and (not isinstance(signs, str) or not _SHA256_RE.match(signs)):
            raise BadArguments(f"signs must be a lowercase sha256 hex digest, got {signs!r}")
        if cmd_id is not None and not isinstance(cmd_id, str):
            raise BadArguments(f"cmd_id must be a string, got {cmd_id!r}")
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 3600:
            raise BadArguments(f"timeout_s must be a number in (0, 3600], got {timeout!r}")
        if self._pending is not None:
            raise DeviceError("busy: a signature is already being taken")
        session = self._next_session
        self._next_session = self._next_session % 0x7FFF_FFFF + 1
        pending = _Pending(session, asyncio.get_running_loop().create_future())
        self._pending = pending
        try:
            await self._start(pending)
            samples = await asyncio.wait_for(asyncio.shield(pending.done), timeout)
        except TimeoutError as err:
            with contextlib.suppress(DeviceError):
                await self._write(encode_stop(self._seq()))
            raise DeviceError(f"no signature within {timeout:g} s") from err
        finally:
            self._pending = None
            if not pending.done.done():
                pending.done.cancel()
        refs = await self._capture(samples, session, case, signs, cmd_id)
        return {**refs, "session": session}

    async def _start(self, pending: _Pending) -> None:
        """Send START until the pad acknowledges it (or the signature ends some other way, e.g. cancel)."""
        loop = asyncio.get_running_loop()
        acked: asyncio.Future[None] = loop.create_future()
        self._start_waiters[pending.session] = acked
        try:
            deadline = loop.time() + self.config.start_timeout_s
            while not (acked.done() or pending.done.done()):
                if loop.time() >= deadline:
                    raise DeviceError(
                        f"the pad did not acknowledge START within {self.config.start_timeout_s:g} s"
                    )
                self._stop_owed = False
                await self._write(encode_start(self._seq(), pending.session))
                await asyncio.wait((acked, pending.done), timeout=min(0.5, deadline - loop.time()))
        finally:
            self._start_waiters.pop(pending.session, None)

    async def _clear(self) -> None:
        """Send CLEAR until the pad reports an empty pad (its STATUS answer), so new ink is new."""
        loop = asyncio.get_running_loop()
        cleared: asyncio.Future[None] = loop.create_future()
        self._clear_waiters.append(cleared)
        deadline = loop.time() + self.config.start_timeout_s
        try:
            while not cleared.done():
                if loop.time() >= deadline:
                    raise DeviceError(
                        f"the pad did not acknowledge CLEAR within {self.config.start_timeout_s:g} s"
                    )
                await self._write(encode_clear(self._seq()))
                await asyncio.wait((cleared,), timeout=min(0.5, deadline - loop.time()))
        finally:
            with contextlib.suppress(ValueError):
                self._clear_waiters.remove(cleared)

    async def _capture(
        self, samples: list[PenSample], session: int, case: str | None, signs: str | None, cmd_id: str | None
    ) -> dict[str, JsonValue]:
        info = self.info or Info(0xFFFF, 0xFFFF, 0xFFFF, self.config.model, "")
        strokes = strokes_of(samples)
        doc = strokes_json(strokes, info, session, signs)
        png = await asyncio.to_thread(render_png, strokes, info, self.config.render_width_px)
        meta: dict[str, JsonValue] = {
            "strokes": len(strokes),
            "points": sum(len(s) for s in strokes),
            "duration_ms": strokes[-1][-1].t_ms if strokes else 0,
            "x_max": info.x_max,
            "y_max": info.y_max,
            "pressure_max": info.pressure_max,
        }
        picture = await self.capture(
            Capture(png, "image/png", "signature", case=case, cmd_id=cmd_id, signs=signs, meta=meta)
        )
        strokes_ref = await self.capture(
            Capture(
                doc, "application/json", "signature_strokes", case=case, cmd_id=cmd_id, signs=signs, meta=meta
            )
        )
        self.signatures += 1
        return {"signature": _ref(picture), "signature_strokes": _ref(strokes_ref), **meta}

    async def _capture_on_device(self, samples: list[PenSample], session: int) -> None:
        try:
            await self._capture(samples, session, None, None, None)
        except Exception:  # the capture sink refused (spool full, disk): the signature is lost, say so once
            log.exception(
                "signature pad %s: a signature taken on the pad could not be captured", self.device_id
            )

    # -- serial I/O ----------------------------------------------------------------------------------------

    def _read_loop(self, ser: serial.Serial, loop: asyncio.AbstractEventLoop) -> None:
        while not self._closing.is_set():
            try:
                data = ser.read(max(1, ser.in_waiting))
            except (serial.SerialException, OSError, TypeError, AttributeError) as err:
                if not self._closing.is_set():
                    with contextlib.suppress(RuntimeError):  # the loop is closed
                        loop.call_soon_threadsafe(self._on_lost, f"port {self.config.port} lost: {err}")
                return
            if data or self.decoder.pending:  # a quiet line gives up a half frame (FrameDecoder.expire)
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(self._on_bytes, data)

    def _write_loop(self, ser: serial.Serial, loop: asyncio.AbstractEventLoop, out: _Outgoing) -> None:
        """Writes in the order they were asked for; a failed write means the port is lost."""
        while (item := out.get()) is not None:
            data, done = item
            try:
                ser.write(data)
            except (serial.SerialException, OSError, TypeError, AttributeError) as err:
                reason = f"port {self.config.port} lost: {err}"
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(self._write_failed, done, reason)
            else:
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(_resolve, done)

    def _write_failed(self, done: asyncio.Future[None], reason: str) -> None:
        self._on_lost(reason)
        if not done.done():
            done.set_exception(DeviceError(reason))

    def _write_soon(self, data: bytes) -> asyncio.Future[None]:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._lost is not None:
            done.set_exception(DeviceError(self._lost))
        elif self._out is None:
            done.set_exception(DeviceError("not connected"))
        else:
            self._out.put((data, done))
        return done

    async def _write(self, data: bytes) -> None:
        await self._write_soon(data)

    def _send_soon(self, data: bytes) -> None:
        """Write from a frame handler (not a coroutine); a failure shows up as a lost port."""
        self._write_soon(data).add_done_callback(lambda f: f.cancelled() or f.exception())

    async def _ask_info(self) -> bool:
        """Whether the pad answers INFO within ``info_timeout_s`` (asked up to 3 times: noise may eat one)."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Info] = loop.create_future()
        self._info_waiters.append(waiter)
        deadline = loop.time() + self.config.info_timeout_s
        try:
            while not waiter.done():
                left = deadline - loop.time()
                if left <= 0:
                    return False
                await self._write(encode_info_request(self._seq()))
                await asyncio.wait((waiter,), timeout=min(left, self.config.info_timeout_s / 3))
            return True
        finally:
            with contextlib.suppress(ValueError):
                self._info_waiters.remove(waiter)

    def _on_lost(self, reason: str) -> None:
        if self._lost is None:
            log.warning("signature pad %s: %s", self.device_id, reason)
            self._lost = reason
        self._fail_pending(DeviceError(reason))

    # -- frames from the pad -----------------------------------------------------------------------------

    def _on_bytes(self, data: bytes) -> None:
        for frame in self.decoder.feed(data) if data else self.decoder.expire():
            try:
                self._on_frame(frame)
            except SigpadPayloadError as err:
                self.bad_payloads += 1
                log.debug("signature pad %s: bad frame: %s", self.device_id, err)

    def _on_frame(self, frame: Frame) -> None:
        if frame.type == FrameType.INFO:
            self.info = parse_info(frame)
            for waiter in self._info_waiters:
                if not waiter.done():
                    waiter.set_result(self.info)
        elif frame.type == FrameType.PEN:
            sample = parse_pen(frame)
            if not self._finishing:
                self._ink.samples[sample.index] = sample
                self._check()
        elif frame.type == FrameType.BUTTON:
            self._on_button(parse_button(frame))
        elif frame.type == FrameType.STATUS:
            self._on_status(parse_status(frame))

    def _on_status(self, status: Status) -> None:
        pending = self._pending
        if status.state is not PadState.IDLE:
            if pending is not None and pending.session == status.session:
                pending.acked = True
            started = self._start_waiters.get(status.session)
            if started is not None and not started.done():
                started.set_result(None)
        if status.state is PadState.DONE:
            if self._finishing:
                if self._stop_owed:  # the STOP was lost (and no START has replaced it)
                    self._send_soon(encode_stop(self._seq()))
            elif status.samples:  # OK was pressed (the BUTTON frame itself may have been lost)
                self._ink.total, self._ink.session = status.samples, status.session
                self._check()
            return
        self._finishing = False
        if status.samples == 0:
            self._ink = _Ink()
            for cleared in self._clear_waiters:
                if not cleared.done():
                    cleared.set_result(None)
        if status.state is PadState.IDLE and pending is not None and pending.acked:
            self._fail_pending(DeviceError("the pad left the signing session"))

    def _on_button(self, press: ButtonPress) -> None:
        button = press.button
        if button is Button.OK and press.samples and not self._finishing:
            self._ink.total = press.samples
            self._check()
        elif button is Button.CLEAR:
            self._ink = _Ink()
        elif button is Button.CANCEL:
            self._ink = _Ink()
            self._fail_pending(DeviceError("the signer cancelled on the pad"))

    def _check(self) -> None:
        """Once OK was pressed: take the signature if every sample is here, else ask for the missing ones.

        It is taken once the pad's ``done`` STATUS named its session (that STATUS follows the OK press and
        repeats until STOP, so it arrives even when noise ate the first one).
        """
        ink = self._ink
        if ink.total is None:
            return
        missing = ink.missing()
        if not missing:
            if ink.session is not None:
                self._take([ink.samples[i] for i in range(ink.total)], ink.session)
            return
        if self._recheck is not None:
            return  # a RESEND is under way; the timer checks again
        if ink.resends >= _MAX_RESENDS:
            log.warning(
                "signature pad %s: %d samples never arrived; signature dropped", self.device_id, len(missing)
            )
            self._fail_pending(DeviceError(f"{len(missing)} pen samples were lost on the line"))
            self._ink = _Ink()
            return
        ink.resends += 1
        for first, count in _ranges(missing)[:8]:
            self._send_soon(encode_resend(self._seq(), first, count))
        self._recheck = asyncio.get_running_loop().call_later(_RESEND_EVERY_S, self._after_resend)

    def _after_resend(self) -> None:
        self._recheck = None
        self._check()

    def _take(self, samples: list[PenSample], session: int) -> None:
        self._ink = _Ink()
        if self._recheck is not None:
            self._recheck.cancel()
            self._recheck = None
        self._finishing = self._stop_owed = True
        self._send_soon(encode_stop(self._seq()))
        pending = self._pending
        if pending is not None and pending.session == session:
            if not pending.done.done():
                pending.done.set_result(samples)
            return
        task = asyncio.get_running_loop().create_task(self._capture_on_device(samples, session))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _fail_pending(self, err: DeviceError) -> None:
        pending = self._pending
        if pending is not None and not pending.done.done():
            pending.done.set_exception(err)
