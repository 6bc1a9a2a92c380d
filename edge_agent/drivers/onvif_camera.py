"""The ``onvif`` driver: an ONVIF Profile S IP camera (docs/devices/onvif-camera.md).

Connecting measures the camera's clock and compensates its skew (WS-UsernameToken digests carry a time), finds
the services, checks the login, picks the profiles (the substream feeds wall tiles, the main stream snapshots,
the first profile with PTZ moves the head) and asks for the tile profile's stream URI.

Health (every poll makes one authenticated call, GetDeviceInformation):
    up        -- reachable and authenticated, and streaming when frames are wanted
    degraded  -- frames are wanted but the stream gives none (for ``stale_after_s``), or the camera's clock is
                 more than ``clock_warn_s`` off (compensated, but its own timestamps are wrong)
    down      -- the poll raises ``DeviceError("<kind>: <reason>")`` with kind unreachable / unauthorized /
                 protocol / unsupported; the supervisor reconnects with backoff
Readings: ``fps``, ``frame_age_seconds`` (only while frames are wanted), ``clock_skew_seconds``.

Wall tiles (:class:`~edge_agent.drivers.base.TileSource`): ``want_frames(fps > 0)`` starts a reader thread with
OpenCV ``VideoCapture`` on the stream URI (RTSP with TCP, nobuffer, low_delay; or MJPEG over HTTP) that keeps
only the newest frame; ``want_frames(0)`` stops it. ``latest_frame()`` never blocks.

Commands:
    ptz_move     -- ``{pan, tilt, zoom?, timeout_s?}`` velocities in −1..1; the camera stops after timeout_s
    ptz_stop     -- stop moving
    goto_preset  -- ``{preset}``
    presets      -- the camera's presets ``[{token, name}]``
    snapshot     -- ``{case?, cmd_id?}``: a JPEG from the main profile's snapshot URI (HTTP digest auth) into
                    the capture pipeline (``kind = "snapshot"``); returns ``{sha256, size, width, height}``
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import Field, JsonValue, SecretStr

from edge_agent.drivers.base import (
    Capture,
    DeviceConfigBase,
    Driver,
    EmitFn,
    Health,
    Reading,
    Seconds,
    case_arg,
)
from edge_agent.errors import BadArguments, DeviceError, UnknownAction
from edge_agent.lazy import lazy
from protocols.messages import DeviceInfo, DeviceStatus

if TYPE_CHECKING:
    import cv2
    import numpy as np

    from protocols import onvif as _onvif
    from protocols.onvif import OnvifClient, Profile
else:  # OpenCV and NumPy (≈ 47 MB) load when a camera is used, not in every agent
    cv2 = lazy("cv2")
    np = lazy("numpy")
    _onvif = lazy("protocols.onvif")  # aiohttp and zeep, ≈ 0.15 s and several MB: only for cameras

log = logging.getLogger(__name__)

RTSP_OPTIONS = "rtsp_transport;tcp|fflags;nobuffer|flags;low_delay"
"""FFmpeg options for RTSP (RECIPES.md): without nobuffer the first frames are seconds stale."""
_FFMPEG_ENV_LOCK = threading.Lock()  # OpenCV reads OPENCV_FFMPEG_CAPTURE_OPTIONS when a capture opens


class OnvifConfig(DeviceConfigBase):
    kind: Literal["onvif"] = "onvif"
    model: Annotated[str, Field(max_length=128)] = "onvif-camera"
    host: Annotated[str, Field(min_length=1, max_length=253)]
    port: Annotated[int, Field(ge=1, le=65535)] = 80
    username: Annotated[str, Field(max_length=128)] = "admin"
    password: SecretStr = Field(SecretStr(""), description="never logged; shown as ********")
    tile_profile: Literal["sub", "main"] = Field(
        "sub", description="sub = the smallest video profile feeds the wall, main = the largest"
    )
    profile_token: Annotated[str, Field(max_length=64)] | None = Field(
        None, description="use this profile for tiles instead of choosing by size"
    )
    stream_protocol: Literal["RTSP", "HTTP"] = "RTSP"
    stream_credentials: bool = Field(True, description="put user:password into an RTSP URI that has none")
    snapshot_case_capture: bool = Field(
        True,
        description="snapshots may be filed into cases; false refuses a `case` (cameras watching the hall)",
    )
    timeout_s: Seconds = 10.0
    open_timeout_s: Seconds = 10.0
    stale_after_s: Seconds = Field(5.0, description="wanted frames older than this make the camera degraded")
    clock_warn_s: Annotated[float, Field(ge=0)] = Field(300.0, description="0 = never warn about the clock")
    max_ptz_timeout_s: Seconds = 60.0


def redact(uri: str) -> str:
    """``uri`` without its password, for messages and logs."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class StreamReader:
    """One ``cv2.VideoCapture`` on a thread of its own, keeping only the newest frame; reopens when lost.

    Every frame is grabbed (pulled off the stream and decoded, which keeps it live and ``fps`` honest), but only
    ``wanted_fps`` of them a second are converted into BGR images.
    """

    def __init__(self, uri: str, name: str, open_timeout_s: float, wanted_fps: float) -> None:
        self.uri = uri
        self.name = name
        self.open_timeout_s = open_timeout_s
        self.wanted_fps = wanted_fps
        self.error = ""
        self.open_seconds: float | None = None  # how long the last successful open took
        self._lock = threading.Lock()
        self._latest: tuple[float, Any] | None = None
        self._times: deque[float] = deque(maxlen=30)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"onvif-{name}", daemon=True)
        self._started = 0.0

    def start(self) -> None:
        self._started = time.monotonic()
        self._thread.start()

    def running_for(self) -> float:
        return time.monotonic() - self._started

    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        """Ask the thread to end (without waiting: it releases the capture after its current read)."""
        self._stop.set()

    def join(self, timeout: float) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def latest(self) -> tuple[float, Any] | None:
        with self._lock:
            return self._latest

    def fps(self) -> float:
        with self._lock:
            times = list(self._times)
        if len(times) < 2 or time.time() - times[-1] > 2.0:
            return 0.0
        return (len(times) - 1) / max(times[-1] - times[0], 1e-6)

    def _open(self) -> Any:
        ms = round(self.open_timeout_s * 1000)
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]
        params += [cv2.CAP_PROP_N_THREADS, 1]
        if not self.uri.startswith("rtsp"):
            return cv2.VideoCapture(self.uri, cv2.CAP_FFMPEG, params)
        with _FFMPEG_ENV_LOCK:
            old = os.environ.get("OPENCV_FFMPEG_CAPTURE_OPTIONS")
            os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = RTSP_OPTIONS
            try:
                return cv2.VideoCapture(self.uri, cv2.CAP_FFMPEG, params)
            finally:
                if old is None:
                    os.environ.pop("OPENCV_FFMPEG_CAPTURE_OPTIONS", None)
                else:
                    os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = old

    def _run(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            started = time.monotonic()
            cap = self._open()
            try:
                if not cap.isOpened():
                    self.error = f"cannot open {redact(self.uri)}"
                else:
                    self.open_seconds = time.monotonic() - started
                    delay = 0.5
                    retrieved = 0.0
                    while not self._stop.is_set():
                        if not cap.grab():
                            self.error = f"{redact(self.uri)} stopped delivering frames"
                            break
                        now = time.time()
                        with self._lock:
                            self._times.append(now)
                        if now - retrieved < 0.9 / max(self.wanted_fps, 0.01):
                            continue
                        ok, frame = cap.retrieve()
                        if not ok or frame is None:
                            self.error = f"{redact(self.uri)} gave an undecodable frame"
                            continue
                        retrieved = now
                        with self._lock:
                            self._latest = (now, np.asarray(frame))
                        self.error = ""
            finally:
                cap.release()
            if self._stop.wait(delay):
                return
            delay = min(delay * 2, 10.0)


class OnvifDriver(Driver[OnvifConfig]):
    kind = "onvif"
    COMMANDS = ("ptz_move", "ptz_stop", "goto_preset", "presets", "snapshot")

    def __init__(self, config: OnvifConfig, emit: EmitFn) -> None:
        super().__init__(config, emit)
        self._client: OnvifClient | None = None
        self._profiles: list[Profile] = []
        self._tile: Profile | None = None
        self._stream_uri: str | None = None
        self._wanted_fps = 0.0
        self._reader: StreamReader | None = None
        self._stopping: list[StreamReader] = []
        self.clock_skew_s: float | None = None

    # -- contract ----------------------------------------------------------------------------------------

    async def connect(self) -> None:
        await self.close()
        c = self.config
        client = _onvif.OnvifClient(
            c.host, c.port, c.username, c.password.get_secret_value(), timeout_s=c.timeout_s
        )
        try:
            await client.connect()
            self._profiles = await client.profiles()
            self._tile = self._choose_tile_profile()
            uri = await client.stream_uri(self._tile.token, c.stream_protocol)
        except _onvif.OnvifError as err:
            await client.close()
            raise _device_error(err) from err
        self._client = client
        self.clock_skew_s = client.clock_skew_s
        self._stream_uri = self._with_credentials(uri)
        log.debug("onvif %s: tiles from profile %s at %s", self.device_id, self._tile.token, redact(uri))
        if self._wanted_fps > 0:
            self._start_reader()

    async def close(self) -> None:
        self._stop_reader()
        stopping, self._stopping = self._stopping, []
        for reader in stopping:
            if not await asyncio.to_thread(reader.join, self.config.open_timeout_s + 5):
                log.warning("onvif %s: stream reader did not stop in time", self.device_id)
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    def describe(self) -> DeviceInfo:
        caps = ["telemetry", "tiles", "snapshot"]
        if any(p.ptz for p in self._profiles) or not self._profiles:
            caps.append("ptz")
        return DeviceInfo(
            id=self.device_id,
            kind=self.kind,
            model=self.config.model,
            capabilities=caps,
            commands=list(self.COMMANDS),
        )

    async def poll(self) -> Health:
        client = self._connected()
        try:
            await client.device_info()
        except _onvif.OnvifError as err:
            raise _device_error(err) from err
        readings = []
        if self.clock_skew_s is not None:  # None: the camera would not tell its time without a login
            readings.append(Reading("clock_skew_seconds", self.clock_skew_s, "s"))
        problems = []
        reader = self._reader
        if reader is not None:
            latest = reader.latest()
            age = time.time() - latest[0] if latest is not None else None
            readings.append(Reading("fps", reader.fps(), "1/s"))
            if age is not None:
                readings.append(Reading("frame_age_seconds", age, "s"))
            # a stream just asked for gets its open time (RTSP takes seconds) before it counts as stale
            if (age is None and reader.running_for() > self.config.stale_after_s) or (
                age is not None and age > self.config.stale_after_s
            ):
                waited = "no frame yet" if age is None else f"no frame for {age:.0f} s"
                problems.append(f"{waited}{': ' + reader.error if reader.error else ''}")
        skew = self.clock_skew_s
        if skew is not None and self.config.clock_warn_s and abs(skew) > self.config.clock_warn_s:
            problems.append(f"camera clock {skew:+.0f} s off (compensated)")
        if problems:
            return Health(DeviceStatus.DEGRADED, "; ".join(problems), tuple(readings))
        return Health(DeviceStatus.UP, "", tuple(readings))

    async def execute(self, action: str, args: dict[str, JsonValue]) -> dict[str, JsonValue]:
        if action == "ptz_move":
            return await self._ptz_move(args)
        if action == "ptz_stop":
            await self._call(lambda c: c.ptz_stop(self._ptz_profile()))
            return {"stopped": True}
        if action == "goto_preset":
            preset = args.get("preset")
            if isinstance(preset, bool) or not isinstance(preset, str | int) or str(preset) == "":
                raise BadArguments(f"preset must be a preset token, got {preset!r}")
            await self._call(lambda c: c.goto_preset(self._ptz_profile(), str(preset)))
            return {"preset": str(preset)}
        if action == "presets":
            presets = await self._call(lambda c: c.presets(self._ptz_profile()))
            return {"presets": [{"token": p.token, "name": p.name} for p in presets]}
        if action == "snapshot":
            return await self._snapshot(args)
        raise UnknownAction(f"onvif camera has no action {action!r}")

    # -- TileSource --------------------------------------------------------------------------------------

    def want_frames(self, fps: float) -> None:
        self._wanted_fps = max(float(fps), 0.0)
        if self._reader is not None:
            self._reader.wanted_fps = self._wanted_fps
        if self._wanted_fps > 0 and self._reader is None and self._stream_uri is not None:
            self._start_reader()
        elif self._wanted_fps == 0:
            self._stop_reader()

    def latest_frame(self) -> tuple[float, Any] | None:
        reader = self._reader
        return reader.latest() if reader is not None else None

    @property
    def stream_uri(self) -> str | None:
        """The tile profile's stream URI (with credentials when configured: do not log it)."""
        return self._stream_uri

    @property
    def reader(self) -> StreamReader | None:
        return self._reader

    def _start_reader(self) -> None:
        assert self._stream_uri is not None
        self._reader = StreamReader(
            self._stream_uri, self.device_id, self.config.open_timeout_s, self._wanted_fps
        )
        self._reader.start()

    def _stop_reader(self) -> None:
        reader, self._reader = self._reader, None
        self._stopping = [r for r in self._stopping if r.alive()]
        if reader is not None:
            reader.stop()
            self._stopping.append(reader)

    # -- helpers -----------------------------------------------------------------------------------------

    def _connected(self) -> OnvifClient:
        if self._client is None:
            raise DeviceError("unreachable: not connected")
        return self._client

    async def _call(self, fn: Any) -> Any:
        client = self._connected()
        try:
            return await fn(client)
        except _onvif.OnvifError as err:
            raise _device_error(err) from err

    def _choose_tile_profile(self) -> Profile:
        c = self.config
        if c.profile_token is not None:
            for p in self._profiles:
                if p.token == c.profile_token:
                    return p
            tokens = ", ".join(p.token for p in self._profiles)
            raise _onvif.OnvifError(
                "unsupported", f"no profile {c.profile_token!r} (the camera has {tokens})"
            )
        ordered = sorted(self._profiles, key=lambda p: p.pixels)
        return ordered[0] if c.tile_profile == "sub" else ordered[-1]

    def _ptz_profile(self) -> str:
        for p in self._profiles:
            if p.ptz:
                return p.token
        raise DeviceError("unsupported: the camera has no PTZ profile")

    def _with_credentials(self, uri: str) -> str:
        c = self.config
        parts = urlsplit(uri)
        if not (c.stream_credentials and parts.scheme == "rtsp" and parts.username is None and c.username):
            return uri
        secret = quote(c.password.get_secret_value(), safe="")
        netloc = f"{quote(c.username, safe='')}:{secret}@{parts.netloc}"
        return urlunsplit(parts._replace(netloc=netloc))

    async def _ptz_move(self, args: dict[str, JsonValue]) -> dict[str, JsonValue]:
        unknown = set(args) - {"pan", "tilt", "zoom", "timeout_s", "cmd_id"}
        if unknown:
            raise BadArguments(f"unknown arguments {sorted(unknown)}")
        speeds = {k: _velocity(args, k) for k in ("pan", "tilt", "zoom")}
        timeout = args.get("timeout_s")
        limit = self.config.max_ptz_timeout_s
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= limit
        ):
            raise BadArguments(f"timeout_s must be a number in (0, {limit:g}], got {timeout!r}")
        t = float(timeout) if timeout is not None else None
        await self._call(
            lambda c: c.ptz_move(self._ptz_profile(), speeds["pan"], speeds["tilt"], speeds["zoom"], t)
        )
        return {**speeds, "timeout_s": t}

    async def _snapshot(self, args: dict[str, JsonValue]) -> dict[str, JsonValue]:
        unknown = set(args) - {"case", "cmd_id"}
        if unknown:
            raise BadArguments(f"unknown arguments {sorted(unknown)}")
        case, cmd_id = case_arg(args), args.get("cmd_id")
        if case is not None and not self.config.snapshot_case_capture:
            raise BadArguments(
                "this camera's snapshots are not filed into cases (snapshot_case_capture = false)"
            )
        if cmd_id is not None and not isinstance(cmd_id, str):
            raise BadArguments(f"cmd_id must be a string, got {cmd_id!r}")
        main = max(self._profiles, key=lambda p: p.pixels) if self._profiles else None
        if main is None:
            raise DeviceError("unreachable: not connected")
        jpeg: bytes = await self._call(lambda c: c.snapshot(main.token))
        image = await asyncio.to_thread(cv2.imdecode, np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise DeviceError("protocol: the snapshot is not a decodable JPEG")
        height, width = int(image.shape[0]), int(image.shape[1])
        meta: dict[str, JsonValue] = {"profile": main.token, "width": width, "height": height}
        ref = await self.capture(
            Capture(jpeg, "image/jpeg", kind="snapshot", case=case, cmd_id=cmd_id, meta=meta)
        )
        return {"sha256": ref.sha256, "size": ref.size, "width": width, "height": height}


def _velocity(args: dict[str, JsonValue], key: str) -> float:
    value = args.get(key, 0.0)
    if isinstance(value, bool) or not isinstance(value, int | float) or not -1.0 <= value <= 1.0:
        raise BadArguments(f"{key} must be a number in [-1, 1], got {value!r}")
    return float(value)


def _device_error(err: _onvif.OnvifError) -> DeviceError:
    return DeviceError(f"{err.kind}: {err.reason}")
