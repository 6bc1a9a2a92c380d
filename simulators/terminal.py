"""A simulated video-conference terminal speaking the control protocol (docs/video-terminals.md).

It listens on 127.0.0.1 only. Call quality and failures are set from Python (tests, ``hallmesh sim
terminal``):

    sim = TerminalSim(TerminalSimOptions(port=0))
    sim.start()                         # own thread and event loop; returns when listening
    sim.fail_next_dials(2)              # the next two DIALs end in ``CALL state=idle reason=failed``
    sim.set_quality(loss_pct=4.0)       # what STATS and STATUS report while connected
    sim.drop_call()                     # the far end hangs up: ``CALL state=idle reason=remote``
    sim.send_raw(b"\\x00garbage\\n")      # anything on every control connection
    sim.stop()

A DIAL answers ``OK state=dialing`` at once; ``connect_delay_s`` later the call is up (``CALL
state=connected``) or failed. While connected, a ``STATS`` notice goes out every ``stats_interval_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Final

from protocols.errors import TerminalParseError
from protocols.terminal import (
    ADDRESS_RE,
    PROTOCOL_VERSION,
    CallState,
    CallStats,
    ErrorCode,
    LineSplitter,
    Request,
    TerminalStatus,
    Topic,
    Verb,
    format_notice,
    format_reply,
    parse_request,
    stats_fields,
    status_fields,
)

log = logging.getLogger(__name__)

HOST: Final = "127.0.0.1"
MAX_PRESET: Final = 15


@dataclass(frozen=True)
class TerminalSimOptions:
    port: int = 0
    model: str = "HM-VT100"
    serial: str = "SIM0001"
    connect_delay_s: float = 0.3
    stats_interval_s: float = 1.0
    quality: CallStats = field(
        default_factory=lambda: CallStats(bitrate_kbps=1920.0, loss_pct=0.2, jitter_ms=8.0)
    )


@dataclass
class _State:
    call: CallState = CallState.IDLE
    address: str = ""
    muted: bool = False
    preset: int = 0
    quality: CallStats = field(default_factory=CallStats)
    fail_dials: int = 0
    dials: int = 0
    hangups: int = 0
    history: list[tuple[str, str]] = field(default_factory=list)  # (call state, reason)


class TerminalSim:
    def __init__(self, options: TerminalSimOptions | None = None) -> None:
        self.options = options or TerminalSimOptions()
        self._state = _State(quality=self.options.quality)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[object]] = set()
        self._dial_task: asyncio.Task[None] | None = None
        self._stats_task: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopped: asyncio.Event | None = None
        self.port = self.options.port
        self.bad_lines = 0

    # -- life cycle --------------------------------------------------------------------------------------

    def start(self, timeout: float = 5.0) -> TerminalSim:
        """Run in a thread of its own; return once it listens on 127.0.0.1:``port``."""
        self._thread = threading.Thread(
            target=self._thread_main, name=f"terminal-sim-{self.port}", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("terminal simulator did not start")
        if self._server is None:
            raise RuntimeError(f"terminal simulator could not listen on {HOST}:{self.options.port}")
        return self

    def _thread_main(self) -> None:
        asyncio.run(self.serve())

    async def serve(self, started: Callable[[int], None] = lambda _p: None) -> None:
        """Serve until :meth:`stop` (or cancellation), in the running loop."""
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        try:
            self._server = await asyncio.start_server(self._client, HOST, self.options.port)
        except OSError as err:
            log.error("terminal simulator cannot listen on %s:%s: %s", HOST, self.options.port, err)
            self._ready.set()
            raise
        self.port = int(self._server.sockets[0].getsockname()[1])
        self._ready.set()
        started(self.port)
        try:
            await self._stopped.wait()
        finally:
            self._server.close()
            for w in list(self._writers):
                w.close()
            for task in (self._dial_task, self._stats_task):
                if task is not None:
                    task.cancel()
            if self._handlers:  # they end on their own once their connection is closed
                await asyncio.wait(self._handlers, timeout=2)
            await self._server.wait_closed()

    def stop(self) -> None:
        if self._loop is not None and self._stopped is not None:
            with contextlib.suppress(RuntimeError):  # loop already closed
                self._loop.call_soon_threadsafe(self._stopped.set)
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    # -- control from outside (thread-safe) -------------------------------------------------------------

    def _call(self, fn: Callable[[], None]) -> None:
        if self._loop is None:
            raise RuntimeError("terminal simulator is not running")
        done = threading.Event()

        def run() -> None:
            try:
                fn()
            finally:
                done.set()

        self._loop.call_soon_threadsafe(run)
        done.wait(5)

    def status(self) -> TerminalStatus:
        with self._lock:
            s = self._state
            return TerminalStatus(s.call, s.address, s.muted, s.preset, self._stats_now())

    @property
    def dials(self) -> int:
        with self._lock:
            return self._state.dials

    @property
    def history(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self._state.history)

    def fail_next_dials(self, count: int) -> None:
        with self._lock:
            self._state.fail_dials = count

    def set_quality(self, **values: float) -> None:
        with self._lock:
            self._state.quality = replace(self._state.quality, **values)

    def drop_call(self, reason: str = "remote") -> None:
        """The far end (or the network) ends the call."""
        self._call(lambda: self._end_call(reason))

    def set_muted(self, muted: bool) -> None:
        """Someone pressed mute on the terminal's own remote control."""
        self._call(lambda: self._mute(muted))

    def send_raw(self, data: bytes) -> None:
        self._call(lambda: self._broadcast(data))

    def close_connections(self) -> None:
        """Drop every control connection (the call goes on)."""

        def close() -> None:
            for w in list(self._writers):
                w.close()

        self._call(close)

    # -- protocol ----------------------------------------------------------------------------------------

    def _stats_now(self) -> CallStats:
        return self._state.quality if self._state.call is CallState.CONNECTED else CallStats()

    def _broadcast(self, data: bytes) -> None:
        for w in list(self._writers):
            if not w.is_closing():
                w.write(data)

    def _set_call(self, call: CallState, address: str, reason: str) -> None:
        with self._lock:
            self._state.call = call
            self._state.address = address
            self._state.history.append((call.value, reason))
        fields: dict[str, str | int | float | bool] = {"state": call.value}
        if address:
            fields["address"] = address
        if reason:
            fields["reason"] = reason
        self._broadcast(format_notice(Topic.CALL, **fields))

    def _end_call(self, reason: str) -> None:
        if self._state.call is CallState.IDLE:
            return
        for task in (self._dial_task, self._stats_task):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
        self._dial_task = self._stats_task = None
        self._set_call(CallState.IDLE, "", reason)

    def _mute(self, muted: bool) -> None:
        with self._lock:
            self._state.muted = muted
        self._broadcast(format_notice(Topic.MUTE, on=muted))

    async def _dial(self, address: str) -> None:
        await asyncio.sleep(self.options.connect_delay_s)
        with self._lock:
            fail = self._state.fail_dials > 0
            if fail:
                self._state.fail_dials -= 1
        self._dial_task = None
        if fail:
            self._set_call(CallState.IDLE, "", "failed")
            return
        self._set_call(CallState.CONNECTED, address, "")
        self._stats_task = asyncio.get_running_loop().create_task(self._stats())

    async def _stats(self) -> None:
        while True:
            await asyncio.sleep(self.options.stats_interval_s)
            with self._lock:
                stats = self._stats_now()
            self._broadcast(format_notice(Topic.STATS, **stats_fields(stats)))

    def _handle(self, req: Request) -> bytes:
        verb, f = req.verb, req.fields
        if verb == Verb.STATUS:
            return format_reply(req.tag, **status_fields(self.status()))
        if verb == Verb.DIAL:
            address = f.get("address", "")
            if not ADDRESS_RE.match(address):
                return format_reply(
                    req.tag, False, code=ErrorCode.BAD_REQUEST, msg="address missing or invalid"
                )
            if self._state.call is not CallState.IDLE:
                return format_reply(req.tag, False, code=ErrorCode.BUSY, msg=f"already {self._state.call}")
            with self._lock:
                self._state.dials += 1
            self._set_call(CallState.DIALING, address, "")
            self._dial_task = asyncio.get_running_loop().create_task(self._dial(address))
            return format_reply(req.tag, state=CallState.DIALING.value)
        if verb == Verb.HANGUP:
            if self._state.call is CallState.IDLE:
                return format_reply(req.tag, False, code=ErrorCode.NOT_IN_CALL, msg="no call")
            with self._lock:
                self._state.hangups += 1
            self._end_call("hangup")
            return format_reply(req.tag, state=CallState.IDLE.value)
        if verb == Verb.MUTE:
            on = f.get("on")
            if on not in ("0", "1"):
                return format_reply(req.tag, False, code=ErrorCode.BAD_REQUEST, msg="on must be 0 or 1")
            self._mute(on == "1")
            return format_reply(req.tag, on=on == "1")
        if verb == Verb.PRESET:
            n = f.get("n", "")
            if not n.isdigit() or int(n) > MAX_PRESET:
                return format_reply(
                    req.tag, False, code=ErrorCode.BAD_REQUEST, msg=f"n must be 0..{MAX_PRESET}"
                )
            with self._lock:
                self._state.preset = int(n)
            return format_reply(req.tag, n=int(n))
        return format_reply(req.tag, False, code=ErrorCode.UNKNOWN_VERB, msg=verb)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        splitter = LineSplitter()
        try:
            writer.write(
                format_notice(
                    Topic.HELLO, proto=PROTOCOL_VERSION, model=self.options.model, serial=self.options.serial
                )
            )
            while data := await reader.read(4096):
                for line in splitter.feed(data):
                    if not line.strip():
                        continue
                    try:
                        req = parse_request(line)
                    except TerminalParseError as err:
                        self.bad_lines += 1
                        writer.write(format_reply("0", False, code=ErrorCode.BAD_REQUEST, msg=str(err)[:200]))
                        continue
                    writer.write(self._handle(req))
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._writers.discard(writer)
            if task is not None:
                self._handlers.discard(task)
            writer.close()
