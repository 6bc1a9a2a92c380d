"""The wall tile payload: header + JPEG, and errors that say what is wrong."""

from __future__ import annotations

import struct

import cv2
import numpy as np
import pytest

from protocols.errors import ProtocolError
from protocols.tile import HEADER_SIZE, MAX_TILE_BYTES, TileError, decode_tile, encode_tile


def _jpeg() -> bytes:
    ok, buf = cv2.imencode(".jpg", np.full((36, 64, 3), 128, np.uint8))
    assert ok
    return buf.tobytes()


def test_round_trip() -> None:
    jpeg = _jpeg()
    payload = encode_tile(jpeg, ts=1_800_000_000.123, width=64, height=36, seq=7)
    assert len(payload) == HEADER_SIZE + len(jpeg)
    tile = decode_tile(payload)
    assert (tile.ts_ms, tile.width, tile.height, tile.seq) == (1_800_000_000_123, 64, 36, 7)
    assert tile.ts == pytest.approx(1_800_000_000.123)
    assert tile.jpeg == jpeg


def test_seq_wraps() -> None:
    assert decode_tile(encode_tile(_jpeg(), ts=1, width=64, height=36, seq=2**32 + 5)).seq == 5


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda p: p[:10], "too short"),
        (lambda p: b"XXXX" + p[4:], "magic"),
        (lambda p: p[:4] + b"\x09" + p[5:], "version 9"),
        (lambda p: p[:14] + struct.pack(">H", 0) + p[16:], "size 0x36"),
        (lambda p: p[:HEADER_SIZE] + b"not a jpeg", "not a JPEG"),
        (lambda p: p + b"\0" * MAX_TILE_BYTES, "exceeds"),
    ],
)
def test_bad_payloads_are_named(mutate: object, message: str) -> None:
    payload = encode_tile(_jpeg(), ts=1, width=64, height=36, seq=1)
    with pytest.raises(TileError, match=message) as err:
        decode_tile(mutate(payload))  # type: ignore[operator]
    assert isinstance(err.value, ProtocolError)


def test_encode_refuses_what_decode_would() -> None:
    with pytest.raises(TileError, match="not a JPEG"):
        encode_tile(b"GIF89a", ts=1, width=1, height=1, seq=1)
    with pytest.raises(TileError, match="outside"):
        encode_tile(_jpeg(), ts=1, width=0, height=36, seq=1)
