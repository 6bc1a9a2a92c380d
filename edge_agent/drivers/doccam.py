"""The ``doccam`` driver: a document camera (高拍仪) read with OpenCV (docs/devices/document-camera.md).

The camera is a UVC device (``source`` = device index) or a video URL (MJPEG over HTTP, RTSP). OpenCV's I/O
blocks, so one reader thread per driver owns the ``cv2.VideoCapture``: it pulls every frame (so the newest one
is always at hand and the camera's buffers never go stale) but decodes it to pixels only while someone needs
them — a capture waiting for a fresh frame, or a preview viewer. The event loop only waits on futures the
reader resolves.

Commands:
    capture  -- ``{case?, resolution?}``: take the second frame read after the command arrived (so it shows the
                desk as it is now), find the page, warp it upright to the paper size at ``resolution`` dpi
                (default ``dpi``), clean it up to look scanned, encode a JPEG and hand it to the capture
                pipeline. Returns ``{sha256, size, media_type, width, height, dpi, corners, frame_width,
                frame_height, seconds}`` (corners TL, TR, BR, BL in frame pixels). No page in view fails the
                command with the reason, and nothing is captured.
    preview  -- returns ``{url}`` of the live preview: MJPEG on ``127.0.0.1:preview_port`` (``/preview.mjpg``,
                ``/preview.jpg``), ``preview_width`` px wide with the detected page outlined, encoded only
                while someone is connected. It is served on the counter PC's loopback for the counter page in
                its browser (DESIGN.md §2) and never crosses the network.

Health: up with readings ``fps`` and ``frame_age_seconds``; down (the supervisor restarts the driver) when the
source cannot be opened, the stream ends, or no frame has come for ``stale_after_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, JsonValue, field_validator

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

    from edge_agent import doccam_vision as vision
else:  # OpenCV and NumPy (≈ 47 MB) load when a camera is used, not in every agent
    cv2 = lazy("cv2")
    np = lazy("numpy")
    vision = lazy("edge_agent.doccam_vision")

log = logging.getLogger(__name__)

PAPER_MM: Final[dict[str, tuple[float, float]]] = {
    "A3": (297.0, 420.0),
    "A4": (210.0, 297.0),
    "A5": (148.0, 210.0),
    "B5": (176.0, 250.0),
    "letter": (215.9, 279.4),
}
Paper = Literal["A3", "A4", "A5", "B5", "letter"]
DPI_RANGE: Final = (50, 600)
HOST: Final = "127.0.0.1"
BOUNDARY: Final = "hallmeshpreview"
FRESH_FRAMES: Final = 2
"""A capture uses the FRESH_FRAMES-th frame read after the command arrived (the first may be in flight)."""


class DoccamConfig(DeviceConfigBase):
    kind: Literal["doccam"] = "doccam"
    model: Annotated[str, Field(max_length=128)] = "document-camera"
    source: Annotated[int, Field(ge=0, le=63)] | Annotated[str, Field(min_length=1, max_length=2048)] = Field(
        0, description="video device index (UVC), or a URL OpenCV opens (http://…/video.mjpg, rtsp://…)"
    )
    width: Annotated[int, Field(ge=160, le=8192)] = Field(1920, description="capture width asked of a device")
    height: Annotated[int, Field(ge=120, le=8192)] = Field(
        1080, description="capture height asked of a device"
    )
    paper: Paper = "A4"
    dpi: Annotated[int, Field(ge=DPI_RANGE[0], le=DPI_RANGE[1])] = 200
    jpeg_quality: Annotated[int, Field(ge=30, le=100)] = 90
    clean_up: bool = Field(
        True, description="even out lighting and white-balance the page so it looks scanned"
    )
    preview_port: Annotated[int, Field(ge=0, le=65535)] | None = Field(
        None,
        description="serve the live preview on 127.0.0.1:this port (0 = any free port); none = no preview",
    )
    preview_width: Annotated[int, Field(ge=160, le=1920)] = 640
    preview_fps: Annotated[float, Field(gt=0, le=30)] = 10.0
    open_timeout_s: Seconds = 10.0
    stale_after_s: Seconds = Field(3.0, description="no frame for this long: the device is down")
    capture_timeout_s: Seconds = 10.0

    @field_validator("source", mode="before")
    @classmethod
    def _index_as_int(cls, value: object) -> object:
        return int(value) if isinstance(value, str) and value.isdigit() else value


def redact(source: int | str) -> str:
    """The source for messages and logs, without a password in its URL."""
    if isinstance(source, int):
        return f"video device {source}"
    parts = urlsplit(source)
    if parts.password is None:
        return source
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


Frame = tuple[int, float, Any]  # (seq, capture time, BGR image)
"""(sequence number, capture time as Unix seconds, BGR image)."""


class FrameReader:
    """Owns one ``cv2.VideoCapture`` on a thread of its own and keeps the newest frame.

    ``want(+1)``/``want(-1)`` say whether anyone needs pixels; without demand frames are only grabbed (pulled
    off the source, which keeps it live and the health honest) and not converted. ``on_frame`` is called on
    the reader thread after every frame.
    """

    def __init__(self, config: DoccamConfig) -> None:
        self.config = config
        self.name = redact(config.source)
        self.cond = threading.Condition()
        self.latest: Frame | None = None
        self.seq = 0
        self.last_grab = 0.0  # monotonic
        self.error: str | None = None
        self.on_frame: list[Callable[[], None]] = []
        self._times: deque[float] = deque(maxlen=30)
        self._demand = 0
        self._stop = threading.Event()
        self._cap: cv2.VideoCapture | None = None
        self._thread: threading.Thread | None = None

    def open(self) -> None:
        """Open the source and read a first frame (blocking; run it in an executor)."""
        c = self.config
        timeout_ms = round(c.open_timeout_s * 1000)
        if isinstance(c.source, int):
            cap = cv2.VideoCapture(c.source, cv2.CAP_ANY)
            if cap.isOpened():
                cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*"MJPG"))
                cap.set(cv2.CAP_PROP_FRAME_WIDTH, c.width)
                cap.set(cv2.CAP_PROP_FRAME_HEIGHT, c.height)
        else:
            params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms]
            cap = cv2.VideoCapture(c.source, cv2.CAP_FFMPEG, params)
        if not cap.isOpened():
            cap.release()
            raise DeviceError(f"cannot open {self.name}")
        ok, frame = cap.read()
        if not ok or frame is None:
            cap.release()
            raise DeviceError(f"{self.name} opened but gave no frame")
        self._store(np.asarray(frame, np.uint8))
        self._cap = cap

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"doccam-{self.config.id}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float) -> None:
        """Ask the thread to end and wait for it; it releases the capture itself (never under a read)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                log.warning("doccam %s: reader thread did not stop within %.0f s", self.config.id, timeout)
        elif self._cap is not None:
            self._cap.release()
            self._cap = None
        with self.cond:
            self.cond.notify_all()

    def want(self, delta: int) -> None:
        with self.cond:
            self._demand += delta

    @property
    def fps(self) -> float:
        with self.cond:
            times = list(self._times)
        if len(times) < 2 or times[-1] <= times[0]:
            return 0.0
        return (len(times) - 1) / (times[-1] - times[0])

    def _store(self, frame: vision.Image | None) -> None:
        now = time.monotonic()
        with self.cond:
            self.seq += 1
            self.last_grab = now
            self._times.append(now)
            if frame is not None:
                self.latest = (self.seq, time.time(), frame)
            self.cond.notify_all()

    def _run(self) -> None:
        cap = self._cap
        assert cap is not None
        try:
            while not self._stop.is_set():
                if not cap.grab():
                    self.error = f"{self.name}: the stream ended or stalled"
                    break
                frame = None
                if self._demand > 0:
                    ok, image = cap.retrieve()
                    if ok and image is not None:
                        frame = np.asarray(image, np.uint8)
                self._store(frame)
                for callback in list(self.on_frame):
                    callback()
        except cv2.error as err:
            self.error = f"{self.name}: {err}"
        finally:
            cap.release()
            self._cap = None
            with self.cond:
                self.cond.notify_all()
            if self.error and not self._stop.is_set():  # the supervisor logs the device going down
                log.debug("doccam %s: %s", self.config.id, self.error)
            for callback in list(self.on_frame):
                callback()  # waiters learn about the error at once


class PreviewServer:
    """The live preview on 127.0.0.1: MJPEG of the reader's frames, small, with the page outlined.

    Frames are converted, scaled, outlined and encoded only on the threads of connected viewers.
    """

    def __init__(self, reader: FrameReader, config: DoccamConfig) -> None:
        self.reader = reader
        self.config = config
        self.clients = 0
        self.stopping = threading.Event()
        handler = type("PreviewHandler", (_PreviewHandler,), {"preview": self})
        self._server = ThreadingHTTPServer((HOST, config.preview_port or 0), handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"doccam-preview-{config.id}", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/preview.mjpg"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        with self.reader.cond:
            self.reader.cond.notify_all()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def next_jpeg(self, after: int, wait_s: float) -> tuple[int, bytes] | None:
        """The preview image of the first frame newer than ``after`` (``None`` if none came, or stopping)."""
        r = self.reader
        with r.cond:
            r.cond.wait_for(
                lambda: self.stopping.is_set() or (r.latest is not None and r.latest[0] > after), wait_s
            )
            latest = r.latest
        if self.stopping.is_set() or latest is None or latest[0] <= after:
            return None
        seq, _, frame = latest
        h, w = frame.shape[:2]
        width = min(self.config.preview_width, w)
        small = np.asarray(
            cv2.resize(frame, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_LINEAR), np.uint8
        )
        corners = vision.find_document(small)
        if corners is not None:
            cv2.polylines(small, [corners.round().astype(np.int32)], True, (60, 200, 60), 2, cv2.LINE_AA)
        ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 75])
        return (seq, buf.tobytes()) if ok else None


class _PreviewHandler(BaseHTTPRequestHandler):
    preview: PreviewServer
    server_version = "hallmesh-doccam-preview/1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("preview %s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path not in ("/preview.mjpg", "/preview.jpg"):
            self.send_error(HTTPStatus.NOT_FOUND, "try /preview.mjpg or /preview.jpg")
            return
        p = self.preview
        p.reader.want(+1)
        with p.reader.cond:
            p.clients += 1
            now = p.reader.seq  # only frames read from here on: the last decoded one may be old
        try:
            if path == "/preview.jpg":
                self._snapshot(now)
            else:
                self._stream(now)
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            p.reader.want(-1)
            with p.reader.cond:
                p.clients -= 1

    def _snapshot(self, after: int) -> None:
        got = self.preview.next_jpeg(after, self.preview.config.stale_after_s)
        if got is None:
            self.send_error(HTTPStatus.SERVICE_UNAVAILABLE, "no frame from the camera")
            return
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(got[1])))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(got[1])

    def _stream(self, after: int) -> None:
        p = self.preview
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        seq, period = after, 1.0 / p.config.preview_fps
        while not p.stopping.is_set():
            got = p.next_jpeg(seq, 1.0)
            if got is None:
                continue
            seq, jpeg = got
            head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
            self.wfile.write(head.encode() + jpeg + b"\r\n")
            self.wfile.flush()
            p.stopping.wait(period)  # the preview's frame rate


# -- the driver ---------------------------------------------------------------------------------------------


class DoccamDriver(Driver[DoccamConfig]):
    kind = "doccam"
    COMMANDS = ("capture", "preview")

    def __init__(self, config: DoccamConfig, emit: EmitFn) -> None:
        super().__init__(config, emit)
        self._reader: FrameReader | None = None
        self._preview: PreviewServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiters: list[tuple[int, asyncio.Future[Frame]]] = []
        self._lock = asyncio.Lock()
        self.captures_total = 0

    # -- contract ----------------------------------------------------------------------------------------

    async def connect(self) -> None:
        await self.close()
        self._loop = asyncio.get_running_loop()
        reader = FrameReader(self.config)
        await asyncio.to_thread(reader.open)
        reader.on_frame.append(self._frame_arrived)
        reader.start()
        self._reader = reader
        if self.config.preview_port is not None:
            try:
                self._preview = PreviewServer(reader, self.config)
            except OSError as err:
                await self.close()
                raise DeviceError(
                    f"preview cannot listen on {HOST}:{self.config.preview_port}: {err}"
                ) from err
            self._preview.start()

    async def close(self) -> None:
        preview, self._preview = self._preview, None
        reader, self._reader = self._reader, None
        if preview is not None:
            await asyncio.to_thread(preview.stop)
        if reader is not None:
            await asyncio.to_thread(reader.stop, self.config.open_timeout_s + 1)
        for _, waiter in self._waiters:
            if not waiter.done():
                waiter.set_exception(DeviceError("the document camera was closed"))
        self._waiters.clear()

    def describe(self) -> DeviceInfo:
        return DeviceInfo(
            id=self.device_id,
            kind=self.kind,
            model=self.config.model,
            capabilities=["telemetry", "capture", "preview"],
            commands=list(self.COMMANDS),
        )

    async def poll(self) -> Health:
        reader = self._reader
        if reader is None:
            raise DeviceError("not connected")
        if reader.error:
            raise DeviceError(reader.error)
        age = time.monotonic() - reader.last_grab
        if age > self.config.stale_after_s:
            raise DeviceError(f"no frame from {reader.name} for {age:.1f} s")
        readings = (
            Reading("fps", round(reader.fps, 2), "Hz"),
            Reading("frame_age_seconds", round(age, 3), "s"),
            Reading("preview_clients", float(self._preview.clients if self._preview else 0)),
            Reading("captures_total", float(self.captures_total)),
        )
        return Health(DeviceStatus.UP, "", readings)

    async def execute(self, action: str, args: dict[str, JsonValue]) -> dict[str, JsonValue]:
        if action == "capture":
            return await self._capture(args)
        if action == "preview":
            if self._preview is None:
                if self.config.preview_port is None:
                    raise DeviceError("no live preview: preview_port is not configured")
                raise DeviceError("the document camera is not connected")
            p = self._preview
            return {
                "url": p.url,
                "snapshot": p.url.replace(".mjpg", ".jpg"),
                "width": self.config.preview_width,
            }
        raise UnknownAction(f"doccam has no action {action!r}")

    # -- capturing ---------------------------------------------------------------------------------------

    def _arguments(self, args: dict[str, JsonValue]) -> tuple[str | None, int, str | None]:
        unknown = set(args) - {"case", "resolution", "cmd_id"}
        if unknown:
            raise BadArguments(f"capture takes case and resolution, not {', '.join(sorted(unknown))}")
        case = case_arg(args)
        dpi = args.get("resolution", self.config.dpi)
        lo, hi = DPI_RANGE
        if isinstance(dpi, bool) or not isinstance(dpi, int) or not lo <= dpi <= hi:
            raise BadArguments(f"resolution must be an integer (dpi) in [{lo}, {hi}], got {dpi!r}")
        cmd_id = args.get("cmd_id")
        return case, dpi, cmd_id if isinstance(cmd_id, str) else None

    async def _capture(self, args: dict[str, JsonValue]) -> dict[str, JsonValue]:
        case, dpi, cmd_id = self._arguments(args)
        c = self.config
        async with self._lock:
            started = time.monotonic()
            _, _, frame = await self._fresh_frame()
            try:
                jpeg, corners, size = await asyncio.to_thread(
                    _process, frame, PAPER_MM[c.paper], dpi, c.clean_up, c.jpeg_quality
                )
            except _NoDocument as err:
                raise DeviceError(f"no document in view: {err}") from err
            h, w = frame.shape[:2]
            meta: dict[str, JsonValue] = {
                "width": size[0],
                "height": size[1],
                "dpi": dpi,
                "paper": c.paper,
                "corners": [[round(float(x), 2), round(float(y), 2)] for x, y in corners],
                "frame_width": w,
                "frame_height": h,
            }
            ref = await self.capture(
                Capture(jpeg, "image/jpeg", kind="photo", case=case, cmd_id=cmd_id, meta=meta)
            )
            self.captures_total += 1
            seconds = time.monotonic() - started
        return {
            "sha256": ref.sha256,
            "size": ref.size,
            "media_type": ref.media_type,
            **meta,
            "seconds": round(seconds, 3),
        }

    async def _fresh_frame(self) -> Frame:
        reader = self._reader
        if reader is None:
            raise DeviceError("the document camera is not connected")
        if reader.error:
            raise DeviceError(reader.error)
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Frame] = loop.create_future()
        reader.want(+1)
        with reader.cond:
            target = reader.seq + FRESH_FRAMES
        self._waiters.append((target, waiter))
        try:
            async with asyncio.timeout(self.config.capture_timeout_s):
                return await waiter
        except TimeoutError as err:
            raise DeviceError(
                f"no frame from {reader.name} within {self.config.capture_timeout_s:g} s"
            ) from err
        finally:
            reader.want(-1)
            with contextlib.suppress(ValueError):
                self._waiters.remove((target, waiter))

    def _frame_arrived(self) -> None:
        """On the reader thread, after every frame: wake the loop if a capture waits."""
        loop = self._loop
        if self._waiters and loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed
                loop.call_soon_threadsafe(self._resolve)

    def _resolve(self) -> None:
        reader = self._reader
        if reader is None:
            return
        latest = reader.latest
        for target, waiter in self._waiters:
            if waiter.done():
                continue
            if reader.error:
                waiter.set_exception(DeviceError(reader.error))
            elif latest is not None and latest[0] >= target:
                waiter.set_result(latest)


class _NoDocument(Exception):
    pass


def _process(
    frame: vision.Image, paper_mm: tuple[float, float], dpi: int, clean: bool, quality: int
) -> tuple[bytes, vision.Points, tuple[int, int]]:
    """Find, rectify, clean and encode the page (on a worker thread)."""
    found = vision.detect_document(frame)
    if found.corners is None:
        raise _NoDocument(found.reason)
    size = vision.page_size(found.corners, paper_mm, dpi)
    page = vision.rectify(frame, found.corners, size)
    if clean:
        page = vision.clean_up(page)
    ok, buf = cv2.imencode(".jpg", page, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise DeviceError("JPEG encoding failed")
    return buf.tobytes(), found.corners, size
