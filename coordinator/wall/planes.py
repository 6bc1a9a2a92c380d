"""Pictures as JPEG's own YCbCr 4:2:0 planes: tiles decode into them, splice panels encode from them.

A JPEG stores Y, Cb and Cr, usually with the chroma at half resolution (4:2:0). Decoding a tile to BGR,
drawing it and encoding the panel back from BGR converts the colours twice and moves three full-resolution
channels through every resize and copy. Keeping the picture as the three planes JPEG already has skips both
conversions and halves the bytes touched: a 4×4 1080p panel of sixteen 640×360 tiles costs about 40 % less
CPU than the BGR path (``python -m bench.wall --part stitch``).

Decoding uses libturbojpeg's ``tjDecompressToYUVPlanes`` (Debian's ``libturbojpeg0``, loaded with ctypes; one
decompressor per thread). Its DCT scaling is used only at the fast factors 1/2, 1/4 and 1/8 — the others run
a slower IDCT than a full decode plus a resize. A tile with other chroma subsampling (4:4:4, 4:2:2, grey) is
brought to 4:2:0 by resizing its chroma. If libturbojpeg is missing or refuses a tile, OpenCV decodes it to
BGR and the planes are computed from that: slower, never blank. Encoding uses simplejpeg's
``encode_jpeg_yuv_planes`` (libjpeg-turbo as well).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading
from typing import Any, Final, NamedTuple

import cv2
import numpy as np
import simplejpeg

log = logging.getLogger(__name__)

NEUTRAL: Final = 128
"""Cb/Cr of grey."""

_TJSAMP_420: Final = 2
_TJSAMP_GRAY: Final = 3
_TJFLAG_FASTUPSAMPLE: Final = 256
_FAST_SCALES: Final = (8, 4, 2)  # denominators, largest reduction first


class Planes(NamedTuple):
    """Y at full size, Cb (u) and Cr (v) at ⌈w/2⌉×⌈h/2⌉."""

    y: Any
    u: Any
    v: Any

    @property
    def width(self) -> int:
        return int(self.y.shape[1])

    @property
    def height(self) -> int:
        return int(self.y.shape[0])


def chroma_size(width: int, height: int) -> tuple[int, int]:
    """(width, height) of a 4:2:0 chroma plane."""
    return (width + 1) // 2, (height + 1) // 2


def blank(width: int, height: int, luma: int = 0) -> Planes:
    cw, ch = chroma_size(width, height)
    return Planes(
        np.full((height, width), luma, np.uint8),
        np.full((ch, cw), NEUTRAL, np.uint8),
        np.full((ch, cw), NEUTRAL, np.uint8),
    )


def from_bgr(img: Any) -> Planes:
    """Planes of a BGR image (JPEG's full-range BT.601 YCbCr is OpenCV's YCrCb)."""
    ycrcb = cv2.cvtColor(img, cv2.COLOR_BGR2YCrCb)
    y, cr, cb = cv2.split(ycrcb)
    size = chroma_size(img.shape[1], img.shape[0])
    return Planes(
        y,
        cv2.resize(cb, size, interpolation=cv2.INTER_AREA),
        cv2.resize(cr, size, interpolation=cv2.INTER_AREA),
    )


def to_bgr(planes: Planes) -> Any:
    """A BGR image of the planes (tests and debugging)."""
    size = (planes.width, planes.height)
    u = cv2.resize(planes.u, size, interpolation=cv2.INTER_LINEAR)
    v = cv2.resize(planes.v, size, interpolation=cv2.INTER_LINEAR)
    return cv2.cvtColor(cv2.merge([planes.y, v, u]), cv2.COLOR_YCrCb2BGR)


def encode(planes: Planes, quality: int) -> bytes:
    """A baseline 4:2:0 JPEG of the planes."""
    return bytes(simplejpeg.encode_jpeg_yuv_planes(planes.y, planes.u, planes.v, quality))


class _TurboJpeg:
    """The few libturbojpeg calls needed, with one decompressor handle per thread."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self._lib = lib
        lib.tjInitDecompress.restype = ctypes.c_void_p
        lib.tjInitDecompress.argtypes = []
        lib.tjDestroy.argtypes = [ctypes.c_void_p]
        lib.tjGetErrorStr2.restype = ctypes.c_char_p
        lib.tjGetErrorStr2.argtypes = [ctypes.c_void_p]
        lib.tjDecompressHeader3.argtypes = [
            ctypes.c_void_p, ctypes.c_char_p, ctypes.c_ulong, *([ctypes.POINTER(ctypes.c_int)] * 4)
        ]  # fmt: skip
        lib.tjDecompressToYUVPlanes.argtypes = [
            ctypes.c_void_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.POINTER(ctypes.c_void_p), ctypes.c_int,
            ctypes.POINTER(ctypes.c_int), ctypes.c_int, ctypes.c_int,
        ]  # fmt: skip
        lib.tjPlaneWidth.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.tjPlaneHeight.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self._local = threading.local()

    def _handle(self) -> int:
        handle: int | None = getattr(self._local, "handle", None)
        if handle is None:
            handle = self._lib.tjInitDecompress()
            if not handle:
                raise MemoryError("tjInitDecompress failed")
            self._local.handle = handle
        return handle

    def decode(self, jpeg: bytes, min_size: tuple[int, int] | None) -> Planes:
        """Decode to planes, scaled down by 1/2, 1/4 or 1/8 where the result still covers ``min_size``.
        Raises ValueError naming libturbojpeg's reason."""
        handle = self._handle()
        try:
            return self._decode(handle, jpeg, min_size)
        except ValueError:
            # libturbojpeg 2.1 does not fully reset a decompressor after some errors (a JPEG without SOS):
            # the next picture it decodes comes out wrong. Start afresh.
            self._lib.tjDestroy(handle)
            self._local.handle = None
            raise

    def _decode(self, handle: int, jpeg: bytes, min_size: tuple[int, int] | None) -> Planes:
        w, h, samp, space = ctypes.c_int(), ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
        if self._lib.tjDecompressHeader3(handle, jpeg, len(jpeg), w, h, samp, space) != 0:
            raise ValueError(self._error(handle))
        width, height = w.value, h.value
        if width <= 0 or height <= 0:
            raise ValueError(f"JPEG header gives a {width}×{height} picture")
        if min_size is not None:
            width, height = _scaled_size(width, height, min_size)
        sub = samp.value
        gray = sub == _TJSAMP_GRAY
        # libturbojpeg writes whole MCUs: the planes it fills may be a row or column larger than the picture
        arrays = [
            np.empty((self._lib.tjPlaneHeight(c, height, sub), self._lib.tjPlaneWidth(c, width, sub)), np.uint8)
            for c in ((0,) if gray else (0, 1, 2))
        ]  # fmt: skip
        pointers = (ctypes.c_void_p * 3)(*[a.ctypes.data for a in arrays], *([None] * (3 - len(arrays))))
        rc = self._lib.tjDecompressToYUVPlanes(
            handle, jpeg, len(jpeg), pointers, width, None, height, _TJFLAG_FASTUPSAMPLE
        )
        if rc != 0:
            raise ValueError(self._error(handle))
        size = chroma_size(width, height)
        y = arrays[0][:height, :width]
        if gray:
            return Planes(y, np.full(size[::-1], NEUTRAL, np.uint8), np.full(size[::-1], NEUTRAL, np.uint8))
        u, v = arrays[1], arrays[2]
        if sub == _TJSAMP_420:
            return Planes(y, u[: size[1], : size[0]], v[: size[1], : size[0]])
        return Planes(
            y,
            cv2.resize(u, size, interpolation=cv2.INTER_AREA),
            cv2.resize(v, size, interpolation=cv2.INTER_AREA),
        )

    def _error(self, handle: int) -> str:
        raw: bytes | None = self._lib.tjGetErrorStr2(handle)
        return raw.decode(errors="replace") if raw else "libturbojpeg error"


def _scaled_size(width: int, height: int, want: tuple[int, int]) -> tuple[int, int]:
    """The size to decode a ``width``×``height`` JPEG at for a ``want`` cell: the smallest of 1/8, 1/4 and 1/2
    that still covers the cell, else full size. (libjpeg's other N/8 scales run a slower IDCT than a full
    decode plus a resize, and alias more: measured with ``bench.wall``.)"""
    for d in _FAST_SCALES:
        sw, sh = -(-width // d), -(-height // d)
        if sw >= min(want[0], width) and sh >= min(want[1], height):
            return sw, sh
    return width, height


def _load() -> _TurboJpeg | None:
    name = ctypes.util.find_library("turbojpeg") or "libturbojpeg.so.0"
    try:
        return _TurboJpeg(ctypes.CDLL(name))
    except OSError as exc:
        log.warning("libturbojpeg not loadable (%s): wall tiles decode through OpenCV, more slowly", exc)
        return None


_turbo: _TurboJpeg | None = _load()


def turbo_available() -> bool:
    return _turbo is not None


def decode(jpeg: bytes, min_size: tuple[int, int] | None = None, *, turbo: bool = True) -> Planes | None:
    """The tile's planes, at least ``min_size`` (width, height) where the tile is that large; None if neither
    libturbojpeg nor OpenCV can read it."""
    if turbo and _turbo is not None:
        try:
            return _turbo.decode(jpeg, min_size)
        except ValueError as exc:
            log.debug("libturbojpeg refused a tile (%s); trying OpenCV", exc)
    if not jpeg:
        return None
    img: Any = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    return None if img is None else from_bgr(img)
