"""A simulated document camera (高拍仪): a skewed paper page on a desk, served as MJPEG video on 127.0.0.1.

The scene is rendered, not filmed: a white A4 page with a title, text lines, a table, a red seal and a solid
black *marker box* (at :data:`MARKER_BOX`, relative to the page) lies on a textured, coloured desk. A seed
picks the desk, the page's rotation, 3-D tilt, size and position; the page is projected with a pinhole camera,
lit with a mild gradient and vignette, and every frame carries sensor noise. The simulator knows the true page
corners in frame coordinates (OpenCV convention: pixel centres at integers), in the order TL, TR, BR, BL of the
page itself.

HTTP endpoints (127.0.0.1 only):

    GET  /video.mjpg     live video, ``multipart/x-mixed-replace`` (what ``cv2.VideoCapture(url)`` reads)
    GET  /snapshot.jpg   the current frame
    GET  /corners        JSON: scene version, seed, frame size, ``document``, ``corners``, ``marker``
    POST /scene          JSON body ``{seed, angle?, tilt_x?, tilt_y?, scale?, empty?}``: change the scene;
                         answers like ``/corners``

From Python::

    sim = DoccamSim(DoccamSimOptions(width=1600, height=1200)).start()
    truth = sim.set_scene(Scene(seed=7, angle=35.0))   # truth.corners: 4×2 true page corners
    sim.wait_sent(truth.version, frames=3)              # the new scene has gone out on every open stream
    sim.pause(); sim.resume()                           # a stalled camera: streams stay open, no frames
    sim.stop()

``python -m simulators.doccam --port 8090`` runs it until Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import signal
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

import cv2
import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

HOST: Final = "127.0.0.1"
PAGE_MM: Final = (210.0, 297.0)
"""A4, portrait."""
PAGE_PX_PER_MM: Final = 4.0
MARKER_BOX: Final = (0.66, 0.045, 0.90, 0.105)
"""The solid black box in the page's top-right corner: (x0, y0, x1, y1) as fractions of page width/height."""
BOUNDARY: Final = "hallmeshframe"

Image = npt.NDArray[np.uint8]
Points = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Scene:
    """What is on the desk. ``None`` pose fields are drawn from ``seed``; ``empty`` leaves the desk bare."""

    seed: int = 0
    angle: float | None = None
    """In-plane rotation of the page, degrees (positive: clockwise on screen)."""
    tilt_x: float | None = None
    """Tilt of the page about the horizontal axis, degrees (perspective: top edge nearer or further)."""
    tilt_y: float | None = None
    """Tilt about the vertical axis, degrees."""
    scale: float | None = None
    """Page height as a fraction of the frame height (before tilt)."""
    empty: bool = False


@dataclass(frozen=True)
class SceneTruth:
    """What the simulator knows about the scene it serves."""

    version: int
    scene: Scene
    width: int
    height: int
    corners: Points | None
    """4×2, TL, TR, BR, BL of the page, in frame pixels; ``None`` when the desk is empty."""
    marker: Points | None
    """4×2 corners of the marker box in frame pixels."""

    def as_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "scene": asdict(self.scene),
            "width": self.width,
            "height": self.height,
            "document": self.corners is not None,
            "corners": None if self.corners is None else self.corners.round(3).tolist(),
            "marker": None if self.marker is None else self.marker.round(3).tolist(),
            "page_mm": list(PAGE_MM),
            "marker_box": list(MARKER_BOX),
        }


@dataclass(frozen=True)
class DoccamSimOptions:
    port: int = 0
    width: int = 1920
    height: int = 1080
    fps: float = 15.0
    jpeg_quality: int = 88
    noise_sigma: float = 3.0
    variants: int = 3
    """Frames with fresh sensor noise rendered per scene; the stream cycles through them."""
    scene: Scene = field(default_factory=Scene)


# -- rendering ---------------------------------------------------------------------------------------------

_DESKS: Final = (  # BGR base colours: oak, walnut, green mat, grey laminate, blue felt
    (70, 115, 160),
    (40, 62, 95),
    (55, 95, 50),
    (105, 108, 110),
    (120, 80, 50),
)
_WORDS: Final = ("application", "permit", "licence", "name", "address", "date", "number", "seal", "unit", "review", "case", "item", "form")  # fmt: skip


def render_page(seed: int) -> Image:
    """The page itself, upright, at :data:`PAGE_PX_PER_MM` (840×1188 px for A4)."""
    rng = np.random.default_rng(seed + 1_000_003)
    w, h = round(PAGE_MM[0] * PAGE_PX_PER_MM), round(PAGE_MM[1] * PAGE_PX_PER_MM)
    page = np.full((h, w, 3), (246, 248, 248), np.uint8)
    ink = (30, 30, 30)
    x0, y0, x1, y1 = MARKER_BOX
    cv2.rectangle(page, (round(x0 * w), round(y0 * h)), (round(x1 * w) - 1, round(y1 * h) - 1), (0, 0, 0), -1)
    cv2.putText(
        page, "APPLICATION FORM", (round(0.08 * w), round(0.095 * h)), cv2.FONT_HERSHEY_DUPLEX, 1.6, ink, 3
    )
    y = 0.15
    while y < 0.44:  # paragraphs of "text"
        x = 0.08
        end = 0.92 if rng.random() > 0.2 else rng.uniform(0.4, 0.9)
        while True:
            word = str(rng.choice(_WORDS))
            (word_w, _), _ = cv2.getTextSize(word, cv2.FONT_HERSHEY_SIMPLEX, 0.75, 2)
            if x + word_w / w > end:
                break
            cv2.putText(page, word, (round(x * w), round(y * h)), cv2.FONT_HERSHEY_SIMPLEX, 0.75, ink, 2)
            x += (word_w + 14) / w
        y += 0.028
    top, rows, cols = 0.48, 5, 3  # a table
    tw, rh = 0.84, 0.045
    for r in range(rows + 1):
        yy = round((top + r * rh) * h)
        cv2.line(page, (round(0.08 * w), yy), (round((0.08 + tw) * w), yy), ink, 2)
    for c in range(cols + 1):
        xx = round((0.08 + c * tw / cols) * w)
        cv2.line(page, (xx, round(top * h)), (xx, round((top + rows * rh) * h)), ink, 2)
    for r in range(rows):
        for c in range(cols):
            text = f"{rng.integers(100, 99999)}" if c else str(rng.choice(_WORDS))[:8]
            org = (round((0.10 + c * tw / cols) * w), round((top + (r + 0.7) * rh) * h))
            cv2.putText(page, text, org, cv2.FONT_HERSHEY_SIMPLEX, 0.8, ink, 2)
    centre, radius = (round(0.72 * w), round(0.85 * h)), round(0.1 * w)  # the red seal
    cv2.circle(page, centre, radius, (40, 40, 200), 6)
    star = [
        (
            centre[0] + 0.45 * radius * math.sin(k * 4 * math.pi / 5),
            centre[1] - 0.45 * radius * math.cos(k * 4 * math.pi / 5),
        )
        for k in range(5)
    ]
    cv2.fillPoly(page, [np.array(star, np.int32)], (40, 40, 200))
    cv2.line(page, (round(0.08 * w), round(0.9 * h)), (round(0.42 * w), round(0.9 * h)), ink, 2)
    cv2.putText(page, "signature", (round(0.08 * w), round(0.93 * h)), cv2.FONT_HERSHEY_SIMPLEX, 0.7, ink, 1)
    return page


def _desk(rng: np.random.Generator, w: int, h: int) -> npt.NDArray[np.float32]:
    base = np.array(_DESKS[int(rng.integers(len(_DESKS)))], np.float32)
    hw, hh = w // 2 + 1, h // 2 + 1  # the texture is made at half size: smooth enough, four times faster
    coarse = cv2.resize(
        rng.random((h // 40 + 2, w // 40 + 2), dtype=np.float32), (hw, hh), interpolation=cv2.INTER_CUBIC
    )
    yy, xx = np.mgrid[0:hh, 0:hw].astype(np.float32)
    a = rng.uniform(0, math.pi)
    period = rng.uniform(4.5, 13.0)
    grain = np.sin((xx * math.cos(a) + yy * math.sin(a)) * (2 * math.pi / period) + 6.0 * coarse)
    shade = cv2.resize(1.0 + 0.18 * (coarse - 0.5) + 0.09 * grain, (w, h), interpolation=cv2.INTER_LINEAR)
    desk = np.asarray(shade[:, :, None] * base[None, None, :], np.float32)
    for _ in range(int(rng.integers(1, 4))):  # clutter under or beside the page: pens, a cable
        p0 = (int(rng.integers(w)), int(rng.integers(h)))
        p1 = (p0[0] + int(rng.integers(-w // 4, w // 4)), p0[1] + int(rng.integers(-h // 4, h // 4)))
        colour = tuple(float(c) for c in rng.integers(10, 120, 3))
        cv2.line(desk, p0, p1, colour, int(rng.integers(4, 14)), cv2.LINE_AA)
    return desk


def _pose(scene: Scene, rng: np.random.Generator, w: int, h: int) -> Points:
    """Project the page's corners with a pinhole camera looking down at the desk."""
    angle = scene.angle if scene.angle is not None else rng.uniform(-28.0, 28.0)
    tilt_x = scene.tilt_x if scene.tilt_x is not None else rng.uniform(-18.0, 18.0)
    tilt_y = scene.tilt_y if scene.tilt_y is not None else rng.uniform(-18.0, 18.0)
    scale = scene.scale if scene.scale is not None else rng.uniform(0.62, 0.82)
    f = 1.1 * max(w, h)
    ph, pw = 1.0, PAGE_MM[0] / PAGE_MM[1]
    local = np.array([[-pw / 2, -ph / 2, 0], [pw / 2, -ph / 2, 0], [pw / 2, ph / 2, 0], [-pw / 2, ph / 2, 0]])
    ax, ay, az = (math.radians(v) for v in (tilt_x, tilt_y, angle))
    rx = np.array([[1, 0, 0], [0, math.cos(ax), -math.sin(ax)], [0, math.sin(ax), math.cos(ax)]])
    ry = np.array([[math.cos(ay), 0, math.sin(ay)], [0, 1, 0], [-math.sin(ay), 0, math.cos(ay)]])
    rz = np.array([[math.cos(az), -math.sin(az), 0], [math.sin(az), math.cos(az), 0], [0, 0, 1]])
    rotated = local @ (rz @ ry @ rx).T
    offset = np.array([rng.uniform(-0.12, 0.12) * w, rng.uniform(-0.08, 0.08) * h])
    for _ in range(60):  # shrink and recentre until the whole page is in view with a margin
        depth = f / (scale * h)
        pts = rotated + np.array([0.0, 0.0, depth])
        img = f * pts[:, :2] / pts[:, 2:3] + np.array([(w - 1) / 2, (h - 1) / 2]) + offset
        margin = 0.03 * min(w, h)
        if (
            img[:, 0].min() > margin
            and img[:, 1].min() > margin
            and img[:, 0].max() < w - 1 - margin
            and img[:, 1].max() < h - 1 - margin
        ):
            return np.asarray(img, np.float64)
        scale *= 0.96
        offset *= 0.8
    raise ValueError(f"cannot fit the page into a {w}×{h} frame with this pose")


def render_scene(
    scene: Scene, width: int, height: int
) -> tuple[npt.NDArray[np.float32], Points | None, Points | None]:
    """The noiseless frame (float32 BGR), the page corners and the marker corners (``None`` if empty)."""
    rng = np.random.default_rng(scene.seed)
    frame = _desk(rng, width, height)
    light = _lighting(rng, width, height)
    corners = marker = None
    size = (width, height)
    if not scene.empty:
        page = render_page(scene.seed)
        ph, pw = page.shape[:2]
        src = np.array([[-0.5, -0.5], [pw - 0.5, -0.5], [pw - 0.5, ph - 0.5], [-0.5, ph - 0.5]], np.float32)
        corners = _pose(scene, rng, width, height)
        hom = cv2.getPerspectiveTransform(src, corners.astype(np.float32))
        x0, y0, x1, y1 = MARKER_BOX
        box = np.array([[x0 * pw, y0 * ph], [x1 * pw, y0 * ph], [x1 * pw, y1 * ph], [x0 * pw, y1 * ph]]) - 0.5
        marker = np.asarray(cv2.perspectiveTransform(box[None], hom.astype(np.float64))[0], np.float64)
        warped = cv2.warpPerspective(page, hom, size, flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
        alpha = cv2.warpPerspective(np.ones((ph, pw), np.float32), hom, size, flags=cv2.INTER_LINEAR)
        quarter = cv2.resize(alpha, (width // 4, height // 4), interpolation=cv2.INTER_AREA)
        shadow = cv2.GaussianBlur(np.roll(quarter, (2, 1), axis=(0, 1)), (0, 0), 2)
        shadow = cv2.resize(shadow, size, interpolation=cv2.INTER_LINEAR)
        on_desk = (1.0 - 0.45 * shadow) * (1.0 - alpha) * light
        on_page = alpha * light
        frame = frame * on_desk[:, :, None] + warped.astype(np.float32) * on_page[:, :, None]
    else:
        frame *= light[:, :, None]
    blurred = np.asarray(cv2.GaussianBlur(frame, (0, 0), 0.7), np.float32)
    return blurred, corners, marker


def _lighting(rng: np.random.Generator, w: int, h: int) -> npt.NDArray[np.float32]:
    """A mild gradient across the desk and a vignette (made small, then scaled up: it is smooth)."""
    sw, sh = w // 8 + 1, h // 8 + 1
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    gx, gy = rng.uniform(-0.1, 0.1, 2)
    r2 = ((xx - sw / 2) / sw) ** 2 + ((yy - sh / 2) / sh) ** 2
    small = 1.0 + gx * (xx / sw - 0.5) + gy * (yy / sh - 0.5) - 0.25 * r2
    return np.asarray(cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR), np.float32)


def _noise(rng: np.random.Generator, w: int, h: int, sigma: float) -> tuple[Image, Image]:
    """Sensor noise as (positive part, negative part), so that adding it is two saturating uint8 operations."""
    field = rng.standard_normal((h, w), dtype=np.float32) * np.float32(sigma)
    field3 = np.repeat(np.rint(field)[:, :, None], 3, axis=2)
    return np.clip(field3, 0, 255).astype(np.uint8), np.clip(-field3, 0, 255).astype(np.uint8)


def _with_noise(frame: Image, noise: tuple[Image, Image]) -> Image:
    return np.asarray(cv2.subtract(cv2.add(frame, noise[0]), noise[1]), np.uint8)


# -- serving -------------------------------------------------------------------------------------------------


class DoccamSim:
    """Renders scenes and serves them over HTTP from a thread of its own."""

    def __init__(self, options: DoccamSimOptions | None = None) -> None:
        self.options = options or DoccamSimOptions()
        self._lock = threading.Condition()
        self._frames: list[bytes] = []
        self._truth: SceneTruth | None = None
        self._sent: dict[int, int] = {}
        self._stopping = threading.Event()
        self._running = threading.Event()  # cleared while paused
        self._running.set()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = self.options.port
        self.clients = 0
        o = self.options
        rng = np.random.default_rng()
        # Drawn once: a fresh draw per scene would cost more than the rest of the rendering.
        self._noise = [_noise(rng, o.width, o.height, o.noise_sigma) for _ in range(max(1, o.variants))]
        self.set_scene(o.scene)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/video.mjpg"

    @property
    def truth(self) -> SceneTruth:
        assert self._truth is not None
        return self._truth

    def set_scene(self, scene: Scene) -> SceneTruth:
        """Render ``scene`` and serve it from the next frame on; returns what is now true."""
        o = self.options
        base, corners, marker = render_scene(scene, o.width, o.height)
        params = [cv2.IMWRITE_JPEG_QUALITY, o.jpeg_quality]
        frames = []
        clean = np.asarray(cv2.convertScaleAbs(base), np.uint8)
        for noise in self._noise:
            ok, buf = cv2.imencode(".jpg", _with_noise(clean, noise), params)
            assert ok
            frames.append(buf.tobytes())
        with self._lock:
            version = 1 if self._truth is None else self._truth.version + 1
            self._truth = SceneTruth(version, scene, o.width, o.height, corners, marker)
            self._frames = frames
            self._lock.notify_all()
            return self._truth

    def wait_sent(self, version: int, frames: int = 2, timeout: float = 10.0) -> bool:
        """Wait until ``frames`` frames of scene ``version`` (or later) have been written to the streams."""
        with self._lock:
            return self._lock.wait_for(
                lambda: sum(n for v, n in self._sent.items() if v >= version) >= frames, timeout
            )

    def frame(self, n: int = 0) -> tuple[int, bytes]:
        with self._lock:
            assert self._truth is not None
            return self._truth.version, self._frames[n % len(self._frames)]

    def pause(self) -> None:
        """Freeze the camera: open streams stay connected but get no frames (a stalled USB camera)."""
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def _count_sent(self, version: int) -> None:
        with self._lock:
            self._sent[version] = self._sent.get(version, 0) + 1
            self._lock.notify_all()

    # -- life cycle --------------------------------------------------------------------------------------

    def start(self) -> DoccamSim:
        """Listen on 127.0.0.1:``port`` (0 = any free port) and serve from a thread; returns once listening."""
        handler = type("Handler", (_Handler,), {"sim": self})
        self._server = ThreadingHTTPServer((HOST, self.options.port), handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"doccam-sim-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and end every open stream."""
        self._stopping.set()
        self._running.set()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def serve_until_stopped(self) -> None:
        self._stopping.wait()


class _Handler(BaseHTTPRequestHandler):
    sim: DoccamSim
    server_version = "hallmesh-doccam-sim/1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, data: object) -> None:
        self._send(status, json.dumps(data).encode(), "application/json")

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/video.mjpg":
            self._stream()
        elif path == "/snapshot.jpg":
            self._send(HTTPStatus.OK, self.sim.frame()[1], "image/jpeg")
        elif path == "/corners":
            self._json(HTTPStatus.OK, self.sim.truth.as_json())
        elif path == "/":
            self._send(HTTPStatus.OK, (__doc__ or "").encode(), "text/plain; charset=utf-8")
        else:
            self._json(HTTPStatus.NOT_FOUND, {"error": f"no such path {path}"})

    def do_POST(self) -> None:
        if self.path.split("?", 1)[0] != "/scene":
            self._json(HTTPStatus.NOT_FOUND, {"error": "POST only to /scene"})
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 <= length <= 4096:
                raise ValueError("body too large")
            body = json.loads(self.rfile.read(length) or b"{}")
            scene = _scene_from_json(body)
            truth = self.sim.set_scene(scene)
        except (ValueError, TypeError) as err:
            self._json(HTTPStatus.BAD_REQUEST, {"error": str(err)})
            return
        self._json(HTTPStatus.OK, truth.as_json())

    def _stream(self) -> None:
        sim = self.sim
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        period = 1.0 / sim.options.fps
        n = 0
        with sim._lock:
            sim.clients += 1
        try:
            while not sim._stopping.is_set():
                if not sim._running.wait(0.2):
                    continue
                version, jpeg = sim.frame(n)
                head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
                self.wfile.write(head.encode() + jpeg + b"\r\n")
                self.wfile.flush()
                sim._count_sent(version)
                n += 1
                sim._stopping.wait(period)  # the camera's frame rate
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            with sim._lock:
                sim.clients -= 1


def _scene_from_json(body: object) -> Scene:
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    unknown = set(body) - {"seed", "angle", "tilt_x", "tilt_y", "scale", "empty"}
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)}")
    seed = body.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError("seed must be a non-negative integer")
    limits = {"angle": 60.0, "tilt_x": 35.0, "tilt_y": 35.0}
    pose: dict[str, float | None] = {}
    for key, lim in limits.items():
        value = body.get(key)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int | float) or abs(value) > lim
        ):
            raise ValueError(f"{key} must be a number in [-{lim:g}, {lim:g}]")
        pose[key] = None if value is None else float(value)
    scale = body.get("scale")
    if scale is not None and (
        isinstance(scale, bool) or not isinstance(scale, int | float) or not 0.2 <= scale <= 0.95
    ):
        raise ValueError("scale must be a number in [0.2, 0.95]")
    empty = body.get("empty", False)
    if not isinstance(empty, bool):
        raise ValueError("empty must be true or false")
    return Scene(seed=seed, scale=None if scale is None else float(scale), empty=empty, **pose)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m simulators.doccam",
        description="A simulated document camera: a skewed page on a desk as MJPEG video on 127.0.0.1.",
        epilog="Endpoints: /video.mjpg, /snapshot.jpg, /corners (JSON), POST /scene {seed, angle, tilt_x, "
        "tilt_y, scale, empty}.",
    )
    parser.add_argument("--port", type=int, default=8090, help="TCP port on 127.0.0.1 (0 = any free port)")
    parser.add_argument("--width", type=int, default=1920, help="frame width in pixels (default 1920)")
    parser.add_argument("--height", type=int, default=1080, help="frame height in pixels (default 1080)")
    parser.add_argument("--fps", type=float, default=15.0, help="frames per second (default 15)")
    parser.add_argument("--seed", type=int, default=0, help="scene seed: desk, page pose (default 0)")
    parser.add_argument("--angle", type=float, help="in-plane rotation of the page, degrees")
    parser.add_argument("--empty", action="store_true", help="start with no document on the desk")
    parser.add_argument("--quality", type=int, default=88, help="JPEG quality 1-100 (default 88)")
    args = parser.parse_args(argv)
    if not (16 <= args.width <= 8192 and 16 <= args.height <= 8192 and 0 < args.fps <= 60):
        parser.error("width/height must be in [16, 8192] and fps in (0, 60]")
    scene = Scene(seed=args.seed, angle=args.angle, empty=args.empty)
    opts = DoccamSimOptions(
        port=args.port, width=args.width, height=args.height, fps=args.fps, jpeg_quality=args.quality
    )
    sim = DoccamSim(replace(opts, scene=scene))
    for sig in (signal.SIGINT, signal.SIGTERM):  # before the ready line: a SIGTERM right after it is ours
        signal.signal(sig, lambda *_a: sim._stopping.set())
    try:
        sim.start()
    except OSError as err:
        print(f"doccam simulator: cannot listen on {HOST}:{args.port}: {err}")
        return 1
    print(f"doccam simulator: {sim.url} (snapshot /snapshot.jpg, corners /corners); Ctrl-C stops", flush=True)
    sim.serve_until_stopped()
    sim.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
