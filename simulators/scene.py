"""Labelled test scenes for simulated cameras, and an MJPEG-over-HTTP server that streams them.

Every frame says which camera it is and when it was made, in ways a test can read back:

- the **background colour** comes from the camera's index (or name) through :data:`PALETTE`, 16 colours far
  apart, so a pixel probe at :func:`probe_point` tells cameras apart even after JPEG and scaling
  (:func:`camera_index_for_colour`);
- the **camera name** in large text in the middle, and the capture time as text at the bottom;
- the **capture time in ms** as a machine-readable code in the top-left corner: 2 rows × 24 black/white blocks
  (44 bits of Unix ms + a 4-bit checksum) laid out in fractions of the frame, so :func:`decode_timestamp`
  reads it at any size the frame was scaled to (down to ~160 px wide).

The server (``SceneServer``) listens on 127.0.0.1 and serves many cameras from one process, one path each::

    server = SceneServer(fps=10)
    server.add(SceneSpec("cam01", index=0, width=640, height=360))
    server.start()                          # own thread; or ``await server.start_async()`` in a running loop
    server.video_url("cam01")               # http://127.0.0.1:PORT/cam01/video.mjpg  (multipart/x-mixed-replace)
    server.snapshot_url("cam01")            # http://127.0.0.1:PORT/cam01/snapshot.jpg
    server.stop()

The first camera added is also served at ``/video.mjpg`` and ``/snapshot.jpg``. A frame is rendered at most
once per tick per camera, however many clients watch; ``?fps=N`` on a video URL asks for another rate.
``python -m simulators.scene --help`` runs N cameras.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import time
import zlib
from dataclasses import dataclass
from typing import Any, Final

import cv2
import numpy as np
import numpy.typing as npt
from aiohttp import web

from simulators.loop_thread import LoopThread

Frame = npt.NDArray[np.uint8]
Image = npt.NDArray[Any]
"""Any image OpenCV hands back (BGR or grey); what the readers accept."""
BGR = tuple[int, int, int]

PALETTE: Final[tuple[BGR, ...]] = (
    (40, 40, 200),  # red
    (40, 160, 40),  # green
    (200, 80, 30),  # blue
    (30, 200, 230),  # yellow
    (190, 40, 190),  # magenta
    (200, 200, 40),  # cyan
    (30, 120, 240),  # orange
    (140, 30, 90),  # purple
    (120, 120, 120),  # grey
    (30, 70, 120),  # brown
    (160, 220, 140),  # mint
    (90, 30, 30),  # navy
    (180, 150, 250),  # pink
    (30, 90, 30),  # dark green
    (60, 200, 140),  # lime
    (230, 160, 120),  # sky
)
"""Background colours (BGR); camera ``index`` gets ``PALETTE[index % 16]``."""

CODE_COLS: Final = 24
CODE_ROWS: Final = 2
CODE_BITS: Final = CODE_COLS * CODE_ROWS  # 44 bits of ms + 4 bits of checksum
CODE_WIDTH: Final = 0.5  # fraction of the frame width the code covers, from the left edge
CODE_HEIGHT: Final = 0.125  # fraction of the frame height, from the top edge
_MS_BITS: Final = 44


def colour_for(key: int | str) -> BGR:
    """The background colour of camera ``key``: an index into :data:`PALETTE`, or a name hashed into it."""
    index = key if isinstance(key, int) else zlib.crc32(key.encode())
    return PALETTE[index % len(PALETTE)]


def probe_point(width: int, height: int) -> tuple[int, int]:
    """An ``(x, y)`` where a scene shows only its background colour (right of the code, above the name)."""
    return int(width * 0.85), int(height * 0.12)


def camera_index_for_colour(bgr: Any) -> int:
    """The palette index whose colour is nearest to ``bgr`` (a pixel or the mean of a patch)."""
    px = np.asarray(bgr, dtype=np.float64).reshape(3)
    distances = [float(np.sum((px - np.asarray(c, dtype=np.float64)) ** 2)) for c in PALETTE]
    return int(np.argmin(distances))


@dataclass(frozen=True, slots=True)
class SceneSpec:
    """One simulated camera's picture: its name, palette index (or explicit colour) and frame size."""

    name: str
    index: int | None = None
    width: int = 640
    height: int = 360
    colour: BGR | None = None

    @property
    def background(self) -> BGR:
        if self.colour is not None:
            return self.colour
        return colour_for(self.index if self.index is not None else self.name)


def _checksum(ms: int) -> int:
    return sum((ms >> (4 * i)) & 0xF for i in range(_MS_BITS // 4)) & 0xF


def _bits(ms: int) -> list[int]:
    value = (ms & ((1 << _MS_BITS) - 1)) << 4 | _checksum(ms)
    return [(value >> (CODE_BITS - 1 - i)) & 1 for i in range(CODE_BITS)]


def _cell(width: int, height: int, i: int) -> tuple[int, int, int, int]:
    row, col = divmod(i, CODE_COLS)
    x0 = round(col * width * CODE_WIDTH / CODE_COLS)
    x1 = round((col + 1) * width * CODE_WIDTH / CODE_COLS)
    y0 = round(row * height * CODE_HEIGHT / CODE_ROWS)
    y1 = round((row + 1) * height * CODE_HEIGHT / CODE_ROWS)
    return x0, y0, x1, y1


def encode_timestamp(frame: Frame, ts: float) -> None:
    """Draw ``ts`` (Unix seconds, kept to the ms) into the code area of ``frame``, in place."""
    h, w = frame.shape[:2]
    for i, bit in enumerate(_bits(round(ts * 1000))):
        x0, y0, x1, y1 = _cell(w, h, i)
        frame[y0:y1, x0:x1] = 255 if bit else 0


def decode_timestamp(frame: Image) -> float | None:
    """The capture time (Unix seconds) coded into ``frame``, or ``None`` when there is no valid code."""
    h, w = frame.shape[:2]
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
    value = 0
    for i in range(CODE_BITS):
        x0, y0, x1, y1 = _cell(w, h, i)
        # the middle half of the block, away from edges that JPEG and scaling blur
        dx, dy = max((x1 - x0) // 4, 0), max((y1 - y0) // 4, 0)
        patch = grey[y0 + dy : max(y1 - dy, y0 + dy + 1), x0 + dx : max(x1 - dx, x0 + dx + 1)]
        if patch.size == 0:
            return None
        value = value << 1 | (1 if float(patch.mean()) >= 128 else 0)
    ms, check = value >> 4, value & 0xF
    if ms == 0 or _checksum(ms) != check:
        return None
    return ms / 1000.0


@functools.lru_cache(maxsize=64)
def _background(spec: SceneSpec) -> Frame:
    """The part of a scene that never changes: its colour and name (drawn once per camera)."""
    w, h = spec.width, spec.height
    frame = np.empty((h, w, 3), dtype=np.uint8)
    frame[:] = spec.background
    font = cv2.FONT_HERSHEY_SIMPLEX
    # the name, as large as fits in ~80 % of the width and ~30 % of the height
    (tw, th), _ = cv2.getTextSize(spec.name, font, 1.0, 2)
    scale = max(min(0.8 * w / max(tw, 1), 0.3 * h / max(th, 1)), 0.3)
    thick = max(int(scale * 2), 1)
    (tw, th), _ = cv2.getTextSize(spec.name, font, scale, thick)
    org = ((w - tw) // 2, (h + th) // 2)
    cv2.putText(frame, spec.name, org, font, scale, (0, 0, 0), thick + max(thick // 2, 2), cv2.LINE_AA)
    cv2.putText(frame, spec.name, org, font, scale, (255, 255, 255), thick, cv2.LINE_AA)
    frame.flags.writeable = False
    return frame


def render(spec: SceneSpec, ts: float | None = None) -> Frame:
    """One frame of ``spec``'s scene at time ``ts`` (default: now)."""
    ts = time.time() if ts is None else ts
    w, h = spec.width, spec.height
    frame = _background(spec).copy()
    # the time as text along the bottom
    text = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1000) % 1000:03d}Z"
    tscale = max(h / 720, 0.3)
    org = (int(w * 0.02), int(h * 0.95))
    cv2.putText(frame, text, org, cv2.FONT_HERSHEY_SIMPLEX, tscale, (255, 255, 255), 1, cv2.LINE_AA)
    encode_timestamp(frame, ts)
    return frame


def jpeg(frame: Image, quality: int = 80) -> bytes:
    ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return bytes(buf.tobytes())


@dataclass
class _Feed:
    spec: SceneSpec
    tick: int = -1
    data: bytes = b""
    frames: int = 0

    def frame_at(self, tick: int) -> bytes:
        if tick != self.tick:
            self.data = jpeg(render(self.spec))
            self.tick = tick
            self.frames += 1
        return self.data


BOUNDARY: Final = "hallmeshframe"


class SceneServer:
    """Serve labelled scenes as MJPEG and JPEG snapshots over HTTP on ``host`` (127.0.0.1) ``port`` (0 = any)."""

    def __init__(self, fps: float = 10.0, port: int = 0, host: str = "127.0.0.1") -> None:
        self.fps = fps
        self.host = host
        self.port = port
        self._feeds: dict[str, _Feed] = {}
        self._default: str | None = None
        self._runner: web.AppRunner | None = None
        self._stopping: asyncio.Event | None = None
        self._runner_thread: LoopThread | None = None

    def add(self, spec: SceneSpec, path: str | None = None) -> str:
        """Serve ``spec`` under ``/{path}/`` (default: its name); returns the path. Call before start."""
        key = path or spec.name
        self._feeds[key] = _Feed(spec)
        self._default = self._default or key
        return key

    def frames_rendered(self, path: str) -> int:
        return self._feeds[path].frames

    def video_url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}/{path}/video.mjpg"

    def snapshot_url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}/{path}/snapshot.jpg"

    # -- aiohttp side --------------------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        """The handlers, to mount on another aiohttp app (the ONVIF simulator serves its video with these)."""
        return [
            web.get("/video.mjpg", self._video),
            web.get("/snapshot.jpg", self._snapshot),
            web.get("/{path}/video.mjpg", self._video),
            web.get("/{path}/snapshot.jpg", self._snapshot),
        ]

    def mount(self, app: web.Application, prefix: str) -> None:
        """Serve these cameras under ``prefix`` (``/live``) of another app; call :meth:`release` before it stops."""
        self._stopping = asyncio.Event()
        sub = web.Application()
        sub.add_routes(self.routes())
        app.add_subapp(prefix, sub)

    def release(self) -> None:
        """End the open video streams (in the serving loop's thread)."""
        if self._stopping is not None:
            self._stopping.set()

    def _feed(self, request: web.Request) -> _Feed:
        key = request.match_info.get("path", self._default or "")
        feed = self._feeds.get(key)
        if feed is None:
            raise web.HTTPNotFound(text=f"no camera {key!r}")
        return feed

    def snapshot(self, path: str) -> bytes:
        """A fresh JPEG of camera ``path``."""
        return jpeg(render(self._feeds[path].spec))

    async def _snapshot(self, request: web.Request) -> web.Response:
        feed = self._feed(request)
        return web.Response(body=jpeg(render(feed.spec)), content_type="image/jpeg")

    async def _video(self, request: web.Request) -> web.StreamResponse:
        feed = self._feed(request)
        try:
            fps = float(request.query.get("fps", self.fps))
        except ValueError as err:
            raise web.HTTPBadRequest(text="fps must be a number") from err
        fps = min(max(fps, 0.1), 60.0)
        response = web.StreamResponse(
            headers={
                "Content-Type": f"multipart/x-mixed-replace; boundary={BOUNDARY}",
                "Cache-Control": "no-cache",
            }
        )
        await response.prepare(request)
        stopping = self._stopping or asyncio.Event()
        period = 1.0 / fps
        with contextlib.suppress(ConnectionResetError):  # the client went away
            while not stopping.is_set():
                tick = int(time.time() / period)
                data = feed.frame_at(tick)
                head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(data)}\r\n\r\n"
                await response.write(head.encode() + data + b"\r\n")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), max((tick + 1) * period - time.time(), 0.0))
        return response

    async def start_async(self) -> None:
        """Listen in the running loop."""
        self._stopping = asyncio.Event()
        app = web.Application()
        app.add_routes(self.routes())
        self._runner = web.AppRunner(app, shutdown_timeout=0.5, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        self.port = int(self._runner.addresses[0][1])

    async def stop_async(self) -> None:
        if self._stopping is not None:
            self._stopping.set()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    # -- thread side ---------------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> SceneServer:
        """Run in a thread of its own; return once listening."""
        self._runner_thread = LoopThread(f"scene-server-{self.port}")
        self._runner_thread.start(self.start_async, self.stop_async, timeout)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._runner_thread is not None:
            self._runner_thread.stop(timeout)
            self._runner_thread = None

    def __enter__(self) -> SceneServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _size(text: str) -> tuple[int, int]:
    w, _, h = text.partition("x")
    try:
        return int(w), int(h)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"size must look like 640x360, got {text!r}") from err


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m simulators.scene",
        description="Serve N labelled test cameras as MJPEG over HTTP on 127.0.0.1 (/camNN/video.mjpg).",
    )
    parser.add_argument("--cameras", type=int, default=4, help="how many cameras (default 4)")
    parser.add_argument("--fps", type=float, default=10.0, help="frames per second (default 10)")
    parser.add_argument("--size", type=_size, default=(640, 360), help="frame size WxH (default 640x360)")
    parser.add_argument(
        "--port", type=int, default=8090, help="TCP port on 127.0.0.1 (0 = any; default 8090)"
    )
    parser.add_argument("--prefix", default="cam", help="camera name prefix (default cam → cam01, cam02, …)")
    args = parser.parse_args(argv)
    server = SceneServer(fps=args.fps, port=args.port)
    w, h = args.size
    names = [f"{args.prefix}{i + 1:02d}" for i in range(args.cameras)]
    for i, name in enumerate(names):
        server.add(SceneSpec(name, index=i, width=w, height=h))

    async def run() -> None:
        await server.start_async()
        for name in names:
            print(f"{name}: {server.video_url(name)}  {server.snapshot_url(name)}", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await server.stop_async()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
