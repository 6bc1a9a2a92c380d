"""An RTSP server for simulated cameras, through GStreamer's RTSP server (RECIPES.md, "Video, RTSP, OpenCV").

Run it with Debian's ``/usr/bin/python3`` (python3-gi, gir1.2-gst-rtsp-server-1.0), not the project's venv::

    /usr/bin/python3 simulators/rtsp_server.py --port 8554 --name cam01 --colour 40,40,200 \\
        --stream main=1280x720 --stream sub=640x360 --fps 10

It listens on 127.0.0.1 only, prints ``READY <port>`` once it does (``--port 0`` picks a free one), serves
``rtsp://127.0.0.1:<port>/<name>/<stream>`` as H.264 (appsrc → x264enc tune=zerolatency → rtph264pay) and ends
on SIGTERM, SIGINT or when its stdin closes (so it never outlives the simulator that started it).

The picture matches simulators/scene.py: the camera's background colour, its name in large letters, the time
as text, and the capture time in ms coded as 2 × 24 black/white blocks in the top-left corner (44 bits of Unix
ms + a 4-bit checksum), so ``simulators.scene.decode_timestamp`` reads it from a decoded frame. Frames are drawn
here in plain Python (this interpreter has no numpy or OpenCV, and Debian's GStreamer lacks the pango text
overlays), with a 5×7 bitmap font. Only stdlib and gi are imported.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Sequence
from typing import Any

# the code layout of simulators/scene.py (a test decodes RTSP frames with it: keep them equal)
CODE_COLS = 24
CODE_ROWS = 2
CODE_BITS = CODE_COLS * CODE_ROWS
CODE_WIDTH = 0.5
CODE_HEIGHT = 0.125
MS_BITS = 44

_FONT_ROWS = {
    "A": ".###. #...# #...# ##### #...# #...# #...#", "B": "####. #...# #...# ####. #...# #...# ####.",
    "C": ".###. #...# #.... #.... #.... #...# .###.", "D": "####. #...# #...# #...# #...# #...# ####.",
    "E": "##### #.... #.... ####. #.... #.... #####", "F": "##### #.... #.... ####. #.... #.... #....",
    "G": ".###. #...# #.... #.### #...# #...# .####", "H": "#...# #...# #...# ##### #...# #...# #...#",
    "I": ".###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.", "J": "..### ...#. ...#. ...#. ...#. #..#. .##..",
    "K": "#...# #..#. #.#.. ##... #.#.. #..#. #...#", "L": "#.... #.... #.... #.... #.... #.... #####",
    "M": "#...# ##.## #.#.# #.#.# #...# #...# #...#", "N": "#...# #...# ##..# #.#.# #..## #...# #...#",
    "O": ".###. #...# #...# #...# #...# #...# .###.", "P": "####. #...# #...# ####. #.... #.... #....",
    "Q": ".###. #...# #...# #...# #.#.# #..#. .##.#", "R": "####. #...# #...# ####. #.#.. #..#. #...#",
    "S": ".#### #.... #.... .###. ....# ....# ####.", "T": "##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..",
    "U": "#...# #...# #...# #...# #...# #...# .###.", "V": "#...# #...# #...# #...# #...# .#.#. ..#..",
    "W": "#...# #...# #...# #.#.# #.#.# #.#.# .#.#.", "X": "#...# #...# .#.#. ..#.. .#.#. #...# #...#",
    "Y": "#...# #...# .#.#. ..#.. ..#.. ..#.. ..#..", "Z": "##### ....# ...#. ..#.. .#... #.... #####",
    "0": ".###. #...# #..## #.#.# ##..# #...# .###.", "1": "..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.",
    "2": ".###. #...# ....# ...#. ..#.. .#... #####", "3": "##### ...#. ..#.. ...#. ....# #...# .###.",
    "4": "...#. ..##. .#.#. #..#. ##### ...#. ...#.", "5": "##### #.... ####. ....# ....# #...# .###.",
    "6": "..##. .#... #.... ####. #...# #...# .###.", "7": "##### ....# ...#. ..#.. .#... .#... .#...",
    "8": ".###. #...# #...# .###. #...# #...# .###.", "9": ".###. #...# #...# .#### ....# ...#. .##..",
    "-": "..... ..... ..... ##### ..... ..... .....", ":": "..... .##.. .##.. ..... .##.. .##.. .....",
    ".": "..... ..... ..... ..... ..... .##.. .##..", "_": "..... ..... ..... ..... ..... ..... #####",
    "/": "....# ....# ...#. ..#.. .#... #.... #....", " ": "..... ..... ..... ..... ..... ..... .....",
    "?": ".###. #...# ....# ...#. ..#.. ..... ..#..",
}  # fmt: skip
FONT: dict[str, list[str]] = {ch: rows.split() for ch, rows in _FONT_ROWS.items()}


def checksum(ms: int) -> int:
    return sum((ms >> (4 * i)) & 0xF for i in range(MS_BITS // 4)) & 0xF


def code_bits(ms: int) -> list[int]:
    value = (ms & ((1 << MS_BITS) - 1)) << 4 | checksum(ms)
    return [(value >> (CODE_BITS - 1 - i)) & 1 for i in range(CODE_BITS)]


def cell(width: int, height: int, i: int) -> tuple[int, int, int, int]:
    row, col = divmod(i, CODE_COLS)
    x0 = round(col * width * CODE_WIDTH / CODE_COLS)
    x1 = round((col + 1) * width * CODE_WIDTH / CODE_COLS)
    y0 = round(row * height * CODE_HEIGHT / CODE_ROWS)
    y1 = round((row + 1) * height * CODE_HEIGHT / CODE_ROWS)
    return x0, y0, x1, y1


class Canvas:
    """A BGR frame as a bytearray, with rectangles and bitmap text."""

    def __init__(self, width: int, height: int, colour: tuple[int, int, int]) -> None:
        self.width, self.height = width, height
        self.buf = bytearray(bytes(colour) * (width * height))

    def copy(self) -> Canvas:
        other = Canvas.__new__(Canvas)
        other.width, other.height, other.buf = self.width, self.height, bytearray(self.buf)
        return other

    def rect(self, x0: int, y0: int, x1: int, y1: int, colour: tuple[int, int, int]) -> None:
        x0, x1 = max(x0, 0), min(x1, self.width)
        y0, y1 = max(y0, 0), min(y1, self.height)
        if x1 <= x0 or y1 <= y0:
            return
        run = bytes(colour) * (x1 - x0)
        stride = self.width * 3
        for y in range(y0, y1):
            off = y * stride + x0 * 3
            self.buf[off : off + len(run)] = run

    def text(self, x: int, y: int, text: str, scale: int, colour: tuple[int, int, int]) -> None:
        for i, ch in enumerate(text.upper()):
            glyph = FONT.get(ch, FONT["?"])
            gx = x + i * 6 * scale
            for r, row in enumerate(glyph):
                c = 0
                while c < 5:
                    if row[c] != "#":
                        c += 1
                        continue
                    start = c
                    while c < 5 and row[c] == "#":
                        c += 1
                    self.rect(gx + start * scale, y + r * scale, gx + c * scale, y + (r + 1) * scale, colour)

    @staticmethod
    def text_width(text: str, scale: int) -> int:
        return (len(text) * 6 - 1) * scale

    def code(self, ts: float) -> None:
        for i, bit in enumerate(code_bits(round(ts * 1000))):
            x0, y0, x1, y1 = cell(self.width, self.height, i)
            self.rect(x0, y0, x1, y1, (255, 255, 255) if bit else (0, 0, 0))


class CameraStream:
    """The scene of one stream: a static background with the name, plus the time drawn per frame."""

    def __init__(self, name: str, width: int, height: int, colour: tuple[int, int, int]) -> None:
        self.width, self.height = width, height
        base = Canvas(width, height, colour)
        scale = max(min(int(0.8 * width / max(Canvas.text_width(name, 1), 1)), height // 20), 1)
        tw = Canvas.text_width(name, scale)
        x, y = (width - tw) // 2, (height - 7 * scale) // 2
        base.text(x + max(scale // 4, 1), y + max(scale // 4, 1), name, scale, (0, 0, 0))
        base.text(x, y, name, scale, (255, 255, 255))
        self.base = base
        self.small = max(height // 180, 1)

    def frame(self, ts: float) -> bytes:
        canvas = self.base.copy()
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1000) % 1000:03d}Z"
        s = self.small
        x, y = int(self.width * 0.02), int(self.height * 0.95) - 7 * s
        canvas.rect(x - s, y - s, x + Canvas.text_width(stamp, s) + s, y + 8 * s, (0, 0, 0))
        canvas.text(x, y, stamp, s, (255, 255, 255))
        canvas.code(ts)
        return bytes(canvas.buf)


def _gst() -> tuple[Any, Any, Any, Any]:
    """GLib, Gst, GstRtspServer and the media factory class; imported here so the module imports without gi."""
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer

    class Factory(GstRtspServer.RTSPMediaFactory):  # type: ignore[misc]
        """One shared H.264 pipeline per stream, fed with frames from a GLib timer while a client watches."""

        def __init__(self, stream: CameraStream, fps: int) -> None:
            super().__init__()
            self.stream, self.fps = stream, fps
            self.set_shared(True)
            self.connect("media-configure", self._configure)

        def do_create_element(self, _url: Any) -> Any:
            s, fps = self.stream, self.fps
            caps = f"video/x-raw,format=BGR,width={s.width},height={s.height},framerate={fps}/1"
            return Gst.parse_launch(
                f"appsrc name=src is-live=true format=time do-timestamp=true max-buffers=2 leaky-type=downstream "
                f"caps={caps} ! videoconvert ! video/x-raw,format=I420 ! "
                f"x264enc tune=zerolatency speed-preset=ultrafast key-int-max={fps} bitrate=2000 threads=1 ! "
                "rtph264pay name=pay0 pt=96 config-interval=1"
            )

        def _configure(self, _factory: Any, media: Any) -> None:
            appsrc = media.get_element().get_child_by_name("src")
            GLib.timeout_add(max(1000 // self.fps, 1), self._push, appsrc)

        def _push(self, appsrc: Any) -> bool:
            data = self.stream.frame(time.time())
            result = appsrc.emit("push-buffer", Gst.Buffer.new_wrapped(data))
            return bool(result == Gst.FlowReturn.OK)  # FLUSHING once the last client has gone: stop the timer

    return GLib, Gst, GstRtspServer, Factory


def _colour(text: str) -> tuple[int, int, int]:
    b, g, r = (int(v) for v in text.split(","))
    return b, g, r


def _stream(text: str) -> tuple[str, int, int]:
    name, _, size = text.partition("=")
    w, _, h = size.partition("x")
    return name, int(w), int(h)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="RTSP server for simulated cameras (127.0.0.1 only)")
    parser.add_argument("--port", type=int, default=8554, help="TCP port on 127.0.0.1; 0 = any free one")
    parser.add_argument("--name", default="cam01", help="camera name: drawn on the picture and in the path")
    parser.add_argument("--colour", type=_colour, default=(40, 40, 200), help="background B,G,R")
    parser.add_argument("--stream", type=_stream, action="append", help="NAME=WxH (repeatable)")
    parser.add_argument("--fps", type=float, default=10.0)
    args = parser.parse_args(argv)
    streams = args.stream or [("main", 1280, 720), ("sub", 640, 360)]
    GLib, Gst, GstRtspServer, Factory = _gst()
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    mounts = server.get_mount_points()
    fps = max(round(args.fps), 1)
    for stream_name, w, h in streams:
        mounts.add_factory(
            f"/{args.name}/{stream_name}", Factory(CameraStream(args.name, w, h, args.colour), fps)
        )
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{args.port}", file=sys.stderr, flush=True)
        return 1
    loop = GLib.MainLoop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, lambda *_a: loop.quit() or False)

    def on_stdin(fd: int, _condition: Any) -> bool:
        if os.read(fd, 4096):
            return True
        loop.quit()  # EOF: whoever started us has gone
        return False

    GLib.io_add_watch(
        sys.stdin.fileno(), GLib.PRIORITY_DEFAULT, GLib.IO_IN | GLib.IO_HUP | GLib.IO_ERR, on_stdin
    )
    print(f"READY {server.get_bound_port()}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
