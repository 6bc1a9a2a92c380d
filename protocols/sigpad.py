"""The signature pad's serial wire protocol, ``hallmesh-sigpad-v1`` (docs/devices/signature-pad.md).

Both directions use the same frame; every multi-byte integer is little-endian::

    offset  size  field
    ------  ----  -----------------------------------------------------------------------------
    0       2     sync            0xA5 0x5A
    2       1     type            see FrameType (pad → host 0x01..0x0F, host → pad 0x81..0x8F)
    3       1     seq             sender's frame counter, 0..255, wraps
    4       2     length n        payload bytes, 0..MAX_PAYLOAD (64)
    6       n     payload         per type, below
    6+n     2     crc             CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) over bytes 2 .. 5+n

Payloads (u8/u16/u32 little-endian; ``str`` = u8 length + UTF-8 bytes)::

    pad → host
    0x01 INFO     proto u8, x_max u16, y_max u16, pressure_max u16, model str, firmware str
                  (sent once when the pad powers up, and as the answer to INFO_REQ)
    0x02 PEN      index u16, x u16, y u16, pressure u16, flags u8 (bit 0 = pen down), t_ms u32
                  index counts the samples of the current signature from 0; t_ms is the time since the
                  signature's first sample. A sample with the pen up ends the current stroke.
    0x03 BUTTON   button u8 (1 OK, 2 CLEAR, 3 CANCEL), samples u16 (samples of the signature so far)
    0x04 STATUS   state u8 (0 idle, 1 signing, 2 done), session u32, samples u16
                  answers START/CLEAR/STOP; repeated every 200 ms while ``done`` until the host sends STOP

    host → pad
    0x81 START    session u32 (≠ 0): show the signing screen; a repeated START of the running session
                  (signing or done) only repeats the STATUS answer
    0x82 CLEAR    wipe the ink, stay in the session (samples restart at index 0)
    0x83 STOP     end the session (after a completed or cancelled signature); the pad goes idle
    0x84 INFO_REQ ask for INFO
    0x85 RESEND   first u16, count u16: send the PEN samples [first, first+count) of the signature again

Ink drawn on an idle pad opens session 0 (a signature started on the device). Frames lost to line noise
are recovered by the host: the sample index shows the gaps, RESEND fills them, and the ``done`` STATUS
repeats until the host acknowledges it with STOP, so a lost OK press is not lost either.

Parsing is split from building: :class:`FrameDecoder` turns any byte stream into frames and never raises
(bad bytes are only counted); ``parse_*`` raise :class:`SigpadPayloadError` for a payload that does not fit
its type; ``encode_*`` build frames.
"""

from __future__ import annotations

import binascii
import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

PROTOCOL_NAME: Final = "hallmesh-sigpad-v1"
PROTOCOL_VERSION: Final = 1
SYNC: Final = b"\xa5\x5a"
HEADER_SIZE: Final = 6
CRC_SIZE: Final = 2
MAX_PAYLOAD: Final = 64
MAX_TEXT: Final = 24
"""Longest model or firmware string (bytes of UTF-8)."""
DONE_REPEAT_S: Final = 0.2
"""How often the pad repeats its ``done`` STATUS until the host sends STOP."""

_HEADER = struct.Struct("<2sBBH")
_PEN = struct.Struct("<HHHHBI")
_BUTTON = struct.Struct("<BH")
_STATUS = struct.Struct("<BIH")
_INFO_HEAD = struct.Struct("<BHHH")
_U32 = struct.Struct("<I")
_RESEND = struct.Struct("<HH")

U16_MAX: Final = 0xFFFF
U32_MAX: Final = 0xFFFF_FFFF


class SigpadPayloadError(ValueError):
    """A frame whose payload does not fit its type (the frame itself arrived intact)."""


class FrameType(IntEnum):
    INFO = 0x01
    PEN = 0x02
    BUTTON = 0x03
    STATUS = 0x04
    START = 0x81
    CLEAR = 0x82
    STOP = 0x83
    INFO_REQ = 0x84
    RESEND = 0x85


class Button(IntEnum):
    OK = 1
    CLEAR = 2
    CANCEL = 3


class PadState(IntEnum):
    IDLE = 0
    SIGNING = 1
    DONE = 2


@dataclass(frozen=True, slots=True)
class Frame:
    type: int
    seq: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class Info:
    x_max: int
    y_max: int
    pressure_max: int
    model: str
    firmware: str
    proto: int = PROTOCOL_VERSION


@dataclass(frozen=True, slots=True)
class PenSample:
    index: int
    x: int
    y: int
    pressure: int
    down: bool
    t_ms: int


@dataclass(frozen=True, slots=True)
class ButtonPress:
    button: Button
    samples: int


@dataclass(frozen=True, slots=True)
class Status:
    state: PadState
    session: int
    samples: int


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, no final xor (check 0x29B1)."""
    return binascii.crc_hqx(data, 0xFFFF)


# -- decoding --------------------------------------------------------------------------------------------


class FrameDecoder:
    """Bytes in, intact frames out; never raises.

    Bytes that cannot start a frame are skipped and counted in ``garbage_bytes``. A header whose length is
    over :data:`MAX_PAYLOAD` counts in ``bad_lengths``, a frame whose CRC does not match in ``crc_errors``;
    in both cases only the first sync byte is dropped and the search goes on from the next byte, so a valid
    frame hidden behind a false start is still found.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self.frames = 0
        self.garbage_bytes = 0
        self.crc_errors = 0
        self.bad_lengths = 0
        self.expired = 0

    def expire(self) -> list[Frame]:
        """The line went quiet with a frame held back: it will not be completed (it was a false start, or
        its sender broke off), so give it up and decode whatever intact frames came after its start.

        A length-prefixed stream cannot tell a false start from a slow frame by itself; the reader calls
        this after an idle gap (the driver after 0.1 s without a byte), the way Modbus RTU uses silence.
        """
        out: list[Frame] = []
        if self._buf:
            self.expired += 1
        while self._buf:
            self.garbage_bytes += 1
            del self._buf[:1]
            out += self.feed(b"")
        return out

    @property
    def pending(self) -> int:
        """Bytes held back: the start of a frame whose rest has not arrived yet."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Frame]:
        buf = self._buf
        buf += data
        out: list[Frame] = []
        pos = 0
        while True:
            start = buf.find(SYNC, pos)
            if start < 0:
                # Keep a trailing first sync byte: its partner may come with the next chunk.
                keep = 1 if buf.endswith(SYNC[:1]) and len(buf) > pos else 0
                self.garbage_bytes += len(buf) - pos - keep
                pos = len(buf) - keep
                break
            self.garbage_bytes += start - pos
            pos = start
            if len(buf) - pos < HEADER_SIZE:
                break
            _sync, ftype, seq, length = _HEADER.unpack_from(buf, pos)
            if length > MAX_PAYLOAD:
                self.bad_lengths += 1
                self.garbage_bytes += 1
                pos += 1
                continue
            end = pos + HEADER_SIZE + length + CRC_SIZE
            if len(buf) < end:
                break
            (crc,) = struct.unpack_from("<H", buf, end - CRC_SIZE)
            if crc16(bytes(buf[pos + 2 : end - CRC_SIZE])) != crc:
                self.crc_errors += 1
                self.garbage_bytes += 1
                pos += 1
                continue
            out.append(Frame(ftype, seq, bytes(buf[pos + HEADER_SIZE : end - CRC_SIZE])))
            self.frames += 1
            pos = end
        del buf[:pos]
        return out


# -- payload parsing -------------------------------------------------------------------------------------


def _text(payload: bytes, at: int, what: str) -> tuple[str, int]:
    if at >= len(payload):
        raise SigpadPayloadError(f"{what}: missing")
    n = payload[at]
    raw = payload[at + 1 : at + 1 + n]
    if len(raw) != n or n > MAX_TEXT:
        raise SigpadPayloadError(f"{what}: bad length {n}")
    try:
        return raw.decode("utf-8"), at + 1 + n
    except UnicodeDecodeError as err:
        raise SigpadPayloadError(f"{what}: not UTF-8") from err


def _expect(frame: Frame, ftype: FrameType, size: int | None) -> None:
    if frame.type != ftype:
        raise SigpadPayloadError(f"frame type 0x{frame.type:02x} is not {ftype.name}")
    if size is not None and len(frame.payload) != size:
        raise SigpadPayloadError(f"{ftype.name} payload is {len(frame.payload)} bytes, not {size}")


def parse_info(frame: Frame) -> Info:
    _expect(frame, FrameType.INFO, None)
    if len(frame.payload) < _INFO_HEAD.size:
        raise SigpadPayloadError("INFO payload too short")
    proto, x_max, y_max, p_max = _INFO_HEAD.unpack_from(frame.payload)
    model, at = _text(frame.payload, _INFO_HEAD.size, "model")
    firmware, at = _text(frame.payload, at, "firmware")
    if at != len(frame.payload):
        raise SigpadPayloadError("INFO payload has trailing bytes")
    if min(x_max, y_max, p_max) == 0:
        raise SigpadPayloadError("INFO: x_max, y_max and pressure_max must be positive")
    return Info(x_max, y_max, p_max, model, firmware, proto)


def parse_pen(frame: Frame) -> PenSample:
    _expect(frame, FrameType.PEN, _PEN.size)
    index, x, y, pressure, flags, t_ms = _PEN.unpack(frame.payload)
    return PenSample(index, x, y, pressure, bool(flags & 1), t_ms)


def parse_button(frame: Frame) -> ButtonPress:
    _expect(frame, FrameType.BUTTON, _BUTTON.size)
    button, samples = _BUTTON.unpack(frame.payload)
    try:
        return ButtonPress(Button(button), samples)
    except ValueError as err:
        raise SigpadPayloadError(f"unknown button {button}") from err


def parse_status(frame: Frame) -> Status:
    _expect(frame, FrameType.STATUS, _STATUS.size)
    state, session, samples = _STATUS.unpack(frame.payload)
    try:
        return Status(PadState(state), session, samples)
    except ValueError as err:
        raise SigpadPayloadError(f"unknown pad state {state}") from err


def parse_start(frame: Frame) -> int:
    """The session id of a START."""
    _expect(frame, FrameType.START, _U32.size)
    (session,) = _U32.unpack(frame.payload)
    if session == 0:
        raise SigpadPayloadError("START session 0 is reserved for signatures started on the pad")
    return int(session)


def parse_resend(frame: Frame) -> tuple[int, int]:
    """``(first, count)`` of a RESEND."""
    _expect(frame, FrameType.RESEND, _RESEND.size)
    first, count = _RESEND.unpack(frame.payload)
    return int(first), int(count)


# -- building --------------------------------------------------------------------------------------------


class SeqCounter:
    """A sender's frame counter: 0, 1, … 255, 0, …"""

    def __init__(self) -> None:
        self._next = 0

    def __call__(self) -> int:
        seq = self._next
        self._next = (seq + 1) & 0xFF
        return seq


def encode_frame(ftype: int, seq: int, payload: bytes = b"") -> bytes:
    if not 0 <= ftype <= 0xFF or not 0 <= seq <= 0xFF:
        raise ValueError(f"type {ftype} and seq {seq} must be bytes")
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes is over {MAX_PAYLOAD}")
    body = bytes([ftype, seq]) + struct.pack("<H", len(payload)) + payload
    return SYNC + body + struct.pack("<H", crc16(body))


def _u16(value: int, what: str) -> int:
    if not 0 <= value <= U16_MAX:
        raise ValueError(f"{what} {value} is not in 0..{U16_MAX}")
    return value


def _str(value: str, what: str) -> bytes:
    raw = value.encode("utf-8")
    if len(raw) > MAX_TEXT:
        raise ValueError(f"{what} is longer than {MAX_TEXT} bytes")
    return bytes([len(raw)]) + raw


def encode_info(seq: int, info: Info) -> bytes:
    head = _INFO_HEAD.pack(
        info.proto, _u16(info.x_max, "x_max"), _u16(info.y_max, "y_max"), _u16(info.pressure_max, "p_max")
    )
    return encode_frame(FrameType.INFO, seq, head + _str(info.model, "model") + _str(info.firmware, "fw"))


def encode_pen(seq: int, s: PenSample) -> bytes:
    if not 0 <= s.t_ms <= U32_MAX:
        raise ValueError(f"t_ms {s.t_ms} out of range")
    payload = _PEN.pack(
        _u16(s.index, "index"),
        _u16(s.x, "x"),
        _u16(s.y, "y"),
        _u16(s.pressure, "pressure"),
        int(s.down),
        s.t_ms,
    )
    return encode_frame(FrameType.PEN, seq, payload)


def encode_button(seq: int, button: Button, samples: int) -> bytes:
    return encode_frame(FrameType.BUTTON, seq, _BUTTON.pack(button, _u16(samples, "samples")))


def encode_status(seq: int, status: Status) -> bytes:
    if not 0 <= status.session <= U32_MAX:
        raise ValueError(f"session {status.session} out of range")
    payload = _STATUS.pack(status.state, status.session, _u16(status.samples, "samples"))
    return encode_frame(FrameType.STATUS, seq, payload)


def encode_start(seq: int, session: int) -> bytes:
    if not 0 < session <= U32_MAX:
        raise ValueError(f"session {session} must be in 1..{U32_MAX}")
    return encode_frame(FrameType.START, seq, _U32.pack(session))


def encode_clear(seq: int) -> bytes:
    return encode_frame(FrameType.CLEAR, seq)


def encode_stop(seq: int) -> bytes:
    return encode_frame(FrameType.STOP, seq)


def encode_info_request(seq: int) -> bytes:
    return encode_frame(FrameType.INFO_REQ, seq)


def encode_resend(seq: int, first: int, count: int) -> bytes:
    return encode_frame(FrameType.RESEND, seq, _RESEND.pack(_u16(first, "first"), _u16(count, "count")))
