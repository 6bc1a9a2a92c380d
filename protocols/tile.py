"""The wall tile on ``…/up/tile/{device}`` (DESIGN.md §4, §8): a fixed binary header, then JPEG bytes.

Header, 24 bytes, big-endian::

    offset size field
    0      4    magic      b"HMTL"
    4      1    version    1
    5      1    flags      0 (reserved)
    6      8    ts_ms      capture time of the frame, Unix milliseconds
    14     2    width      pixels of the JPEG
    16     2    height     pixels of the JPEG
    18     4    seq        tile counter of this camera (wraps at 2**32)
    22     2    reserved   0

Tiles are QoS 0 and never retained: a lost tile is replaced by the next one. No envelope: the topic names the
agent and device, and JSON around a JPEG would only cost bytes and CPU at both ends.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from protocols.errors import ProtocolError

MAGIC: Final = b"HMTL"
VERSION: Final = 1
HEADER: Final = struct.Struct(">4sBBQHHIH")
HEADER_SIZE: Final = HEADER.size
MAX_TILE_BYTES: Final = 2 * 1024 * 1024
MAX_SIDE: Final = 4096
_JPEG_SOI: Final = b"\xff\xd8"


class TileError(ProtocolError):
    """A tile payload that cannot be accepted; the message names what is wrong."""


@dataclass(frozen=True, slots=True)
class Tile:
    ts_ms: int
    width: int
    height: int
    seq: int
    jpeg: bytes

    @property
    def ts(self) -> float:
        """Capture time in Unix seconds."""
        return self.ts_ms / 1000.0


def encode_tile(jpeg: bytes, *, ts: float, width: int, height: int, seq: int) -> bytes:
    """Header + ``jpeg``; ``ts`` is the capture time in Unix seconds."""
    if not jpeg.startswith(_JPEG_SOI):
        raise TileError("tile data is not a JPEG (no SOI marker)")
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise TileError(f"tile size {width}x{height} outside 1..{MAX_SIDE}")
    if HEADER_SIZE + len(jpeg) > MAX_TILE_BYTES:
        raise TileError(f"tile of {len(jpeg)} bytes exceeds {MAX_TILE_BYTES}")
    ts_ms = round(ts * 1000)
    if ts_ms < 0:
        raise TileError(f"negative capture time {ts!r}")
    return HEADER.pack(MAGIC, VERSION, 0, ts_ms, width, height, seq & 0xFFFFFFFF, 0) + jpeg


def decode_tile(payload: bytes) -> Tile:
    """Parse a tile; raise :class:`TileError` naming what is wrong (the JPEG itself is not decoded)."""
    if len(payload) > MAX_TILE_BYTES:
        raise TileError(f"tile of {len(payload)} bytes exceeds {MAX_TILE_BYTES}")
    if len(payload) < HEADER_SIZE + len(_JPEG_SOI):
        raise TileError(f"tile too short: {len(payload)} bytes, header alone is {HEADER_SIZE}")
    magic, version, _flags, ts_ms, width, height, seq, _reserved = HEADER.unpack_from(payload)
    if magic != MAGIC:
        raise TileError(f"bad tile magic {magic!r}, expected {MAGIC!r}")
    if version != VERSION:
        raise TileError(f"unsupported tile version {version}, this side speaks {VERSION}")
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise TileError(f"tile size {width}x{height} outside 1..{MAX_SIDE}")
    jpeg = payload[HEADER_SIZE:]
    if not jpeg.startswith(_JPEG_SOI):
        raise TileError("tile data after the header is not a JPEG (no SOI marker)")
    return Tile(ts_ms=ts_ms, width=width, height=height, seq=seq, jpeg=jpeg)
