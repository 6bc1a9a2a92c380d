"""The signature pad's framing: CRC, encoders and parsers, and a decoder that survives any byte stream."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.sigpad import (
    MAX_PAYLOAD,
    SYNC,
    Button,
    ButtonPress,
    Frame,
    FrameDecoder,
    FrameType,
    Info,
    PadState,
    PenSample,
    SeqCounter,
    SigpadPayloadError,
    Status,
    crc16,
    encode_button,
    encode_clear,
    encode_frame,
    encode_info,
    encode_info_request,
    encode_pen,
    encode_resend,
    encode_start,
    encode_status,
    encode_stop,
    parse_button,
    parse_info,
    parse_pen,
    parse_resend,
    parse_start,
    parse_status,
)


def _one(data: bytes) -> Frame:
    frames = FrameDecoder().feed(data)
    assert len(frames) == 1
    return frames[0]


def test_crc_is_ccitt_false() -> None:
    assert crc16(b"123456789") == 0x29B1
    assert crc16(b"") == 0xFFFF


def test_frame_layout() -> None:
    data = encode_frame(FrameType.PEN, 7, b"\x01\x02")
    assert data[:2] == SYNC
    assert data[2:6] == bytes([0x02, 7, 2, 0])
    assert data[6:8] == b"\x01\x02"
    assert int.from_bytes(data[8:], "little") == crc16(data[2:8])


def test_round_trips() -> None:
    info = Info(10_000, 4_000, 1023, "HM-SP100", "1.0.0")
    assert parse_info(_one(encode_info(1, info))) == info
    sample = PenSample(65535, 10_000, 0, 1023, True, 4_000_000_000)
    assert parse_pen(_one(encode_pen(2, sample))) == sample
    assert parse_pen(_one(encode_pen(2, PenSample(0, 1, 2, 0, False, 0)))).down is False
    assert parse_button(_one(encode_button(3, Button.CANCEL, 12))) == ButtonPress(Button.CANCEL, 12)
    status = Status(PadState.DONE, 0xFFFF_FFFF, 40)
    assert parse_status(_one(encode_status(4, status))) == status
    assert parse_start(_one(encode_start(5, 42))) == 42
    assert parse_resend(_one(encode_resend(6, 3, 9))) == (3, 9)
    for data, ftype in (
        (encode_clear(7), FrameType.CLEAR),
        (encode_stop(8), FrameType.STOP),
        (encode_info_request(9), FrameType.INFO_REQ),
    ):
        frame = _one(data)
        assert (frame.type, frame.payload) == (ftype, b"")


def test_bad_payloads_raise_payload_errors() -> None:
    with pytest.raises(SigpadPayloadError, match="not PEN"):
        parse_pen(Frame(FrameType.BUTTON, 0, b"\x01\x00\x00"))
    with pytest.raises(SigpadPayloadError, match="13"):
        parse_pen(Frame(FrameType.PEN, 0, b"\x00" * 12))
    with pytest.raises(SigpadPayloadError, match="button"):
        parse_button(Frame(FrameType.BUTTON, 0, b"\x09\x00\x00"))
    with pytest.raises(SigpadPayloadError, match="state"):
        parse_status(Frame(FrameType.STATUS, 0, b"\x07" + b"\x00" * 6))
    with pytest.raises(SigpadPayloadError, match="reserved"):
        parse_start(Frame(FrameType.START, 0, b"\x00" * 4))
    with pytest.raises(SigpadPayloadError, match="model"):
        parse_info(Frame(FrameType.INFO, 0, b"\x01\x10\x00\x10\x00\x10\x00\x30abc"))
    with pytest.raises(SigpadPayloadError, match="positive"):
        parse_info(_one(encode_frame(FrameType.INFO, 0, b"\x01\x00\x00\x10\x00\x10\x00\x00\x00")))


def test_encoders_refuse_out_of_range() -> None:
    with pytest.raises(ValueError, match="payload"):
        encode_frame(FrameType.PEN, 0, b"\x00" * (MAX_PAYLOAD + 1))
    with pytest.raises(ValueError, match="x"):
        encode_pen(0, PenSample(0, 70_000, 0, 0, True, 0))
    with pytest.raises(ValueError, match="session"):
        encode_start(0, 0)
    with pytest.raises(ValueError, match="model"):
        encode_info(0, Info(1, 1, 1, "m" * 30, ""))


def test_seq_counter_wraps() -> None:
    seq = SeqCounter()
    assert [seq() for _ in range(258)][-3:] == [255, 0, 1]


def test_decoder_counts_garbage_crc_errors_and_bad_lengths() -> None:
    frame = encode_pen(1, PenSample(0, 1, 2, 3, True, 4))
    corrupt = bytearray(frame)
    corrupt[8] ^= 0xFF
    bad_length = SYNC + bytes([0x02, 0, MAX_PAYLOAD + 1, 0])
    decoder = FrameDecoder()
    frames = decoder.feed(b"junk" + bytes(corrupt) + bad_length + frame)
    assert len(frames) == 1
    assert parse_pen(frames[0]).x == 1
    assert (decoder.frames, decoder.crc_errors, decoder.bad_lengths) == (1, 1, 1)
    assert decoder.garbage_bytes == 4 + len(corrupt) + len(bad_length)
    assert decoder.pending == 0


def test_decoder_waits_for_the_rest_of_a_frame_and_a_split_sync() -> None:
    frame = encode_stop(3)
    decoder = FrameDecoder()
    assert decoder.feed(b"\x00" + frame[:1]) == []
    assert decoder.pending == 1  # the 0xA5 may be the start of a frame
    assert decoder.feed(frame[1:5]) == []
    assert decoder.feed(frame[5:]) == [Frame(FrameType.STOP, 3, b"")]
    assert decoder.garbage_bytes == 1


def test_expire_gives_up_a_false_start_and_decodes_what_it_held_back() -> None:
    frame = encode_clear(9)
    false_start = SYNC + bytes([0x01, 0, 7, 0])  # claims 7 payload bytes; only the real frame follows
    decoder = FrameDecoder()
    assert decoder.feed(false_start + frame) == []
    assert decoder.expire() == [Frame(FrameType.CLEAR, 9, b"")]
    assert (decoder.expired, decoder.garbage_bytes, decoder.pending) == (1, len(false_start), 0)
    assert decoder.expire() == []
    assert decoder.expired == 1


_frames = st.builds(
    lambda t, seq, payload: encode_frame(t, seq, payload),
    st.sampled_from(list(FrameType)),
    st.integers(0, 255),
    st.binary(max_size=MAX_PAYLOAD),
)


@st.composite
def _garbage(draw: st.DrawFn) -> bytes:
    """Noise: random bytes, false starts (sync + header, any length), or a valid frame cut short."""
    kind = draw(st.sampled_from(["bytes", "false_start", "truncated"]))
    if kind == "bytes":
        return draw(st.binary(min_size=1, max_size=40))
    if kind == "false_start":
        return SYNC + draw(st.binary(min_size=0, max_size=8))
    whole = draw(_frames)
    return whole[: draw(st.integers(1, len(whole) - 1))]


@settings(derandomize=True, database=None, max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.lists(_garbage(), max_size=3), _frames), min_size=1, max_size=12),
    st.lists(st.integers(1, 64), min_size=1, max_size=8),
)
def test_garbage_between_valid_frames_every_frame_decoded_exactly_once(
    parts: list[tuple[list[bytes], bytes]], chunks: list[int]
) -> None:
    stream = b"".join(b"".join(noise) + frame for noise, frame in parts)
    decoder = FrameDecoder()
    got: list[Frame] = []
    pos, n = 0, 0
    while pos < len(stream):  # fed in uneven chunks, as a serial port delivers them
        size = chunks[n % len(chunks)]
        got += decoder.feed(stream[pos : pos + size])
        pos, n = pos + size, n + 1
    got += decoder.expire()  # the line goes quiet: a false start at the end no longer holds frames back
    want = [_one(frame) for _noise, frame in parts]
    assert got == want
    assert decoder.frames == len(want)
    noise = sum(len(b) for group, _f in parts for b in group)
    assert decoder.garbage_bytes == noise


@given(st.binary(max_size=2000))
def test_decoder_never_raises(data: bytes) -> None:
    decoder = FrameDecoder()
    decoder.feed(data)
    decoder.feed(data[::-1])
    assert decoder.pending <= 6 + MAX_PAYLOAD + 2
