"""The terminal control protocol: framing, parsing, building — and garbage never raising anything else."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.errors import TerminalParseError
from protocols.terminal import (
    MAX_LINE,
    CallState,
    CallStats,
    LineSplitter,
    Notice,
    Reply,
    TerminalStatus,
    format_notice,
    format_reply,
    format_request,
    parse_incoming,
    parse_request,
    status_fields,
    terminal_status,
)


def test_round_trips() -> None:
    line = format_request("7", "DIAL", address="region-main@10.0.0.5", rate_kbps=1920)
    assert line == b"7 DIAL address=region-main@10.0.0.5 rate_kbps=1920\r\n"
    req = parse_request(line.rstrip(b"\r\n"))
    assert (req.tag, req.verb, req.fields) == (
        "7",
        "DIAL",
        {"address": "region-main@10.0.0.5", "rate_kbps": "1920"},
    )

    reply = parse_incoming(format_reply("7", False, code="busy", msg="already connected = yes").rstrip())
    assert reply == Reply("7", False, {"code": "busy", "msg": "already connected = yes"})
    assert isinstance(reply, Reply)
    assert reply.code == "busy"
    assert reply.message == "already connected = yes"

    notice = parse_incoming(format_notice("CALL", state="idle", reason="remote").rstrip())
    assert notice == Notice("CALL", {"state": "idle", "reason": "remote"})

    status = TerminalStatus(CallState.CONNECTED, "m@h", True, 3, CallStats(1920.0, 0.25, 12.5))
    parsed = parse_incoming(format_reply("9", **status_fields(status)).rstrip())
    assert isinstance(parsed, Reply)
    assert terminal_status(parsed.fields) == status
    idle = parse_incoming(format_reply("9", **status_fields(TerminalStatus())).rstrip())
    assert isinstance(idle, Reply)
    assert terminal_status(idle.fields) == TerminalStatus()


@pytest.mark.parametrize(
    "line",
    [
        b"",
        b"   ",
        b"*",
        b"* lower",
        b"7",
        b"7 MAYBE",
        b"toolongtag1 OK",
        b"7 OK novalue",
        b"7 OK a=1 a=2",
        b"7 OK Bad=1",
        b"7 OK a=%ff",
        b"\xff\xfe OK",
        b"7 OK a=\x00",
        b"7 OK " + b"a=1 " * 20,
        b"7 OK a=" + b"x" * MAX_LINE,
    ],
)
def test_bad_lines_raise_parse_errors(line: bytes) -> None:
    with pytest.raises(TerminalParseError):
        parse_incoming(line)


def test_bad_field_values() -> None:
    for fields in (
        {"call": "ringing"},
        {"muted": "yes"},
        {"loss_pct": "nan"},
        {"jitter_ms": "1e999"},
        {"preset": "x"},
    ):
        with pytest.raises(TerminalParseError):
            terminal_status({"call": "idle", **fields})


def test_splitter_handles_half_lines_crlf_and_overlong_lines() -> None:
    s = LineSplitter(max_line=16)
    assert s.feed(b"1 OK\r\n2 O") == [b"1 OK"]
    assert s.pending == 3
    assert s.feed(b"K\n") == [b"2 OK"]
    assert s.feed(b"x" * 40) == []
    assert s.feed(b"y" * 40 + b"\n3 OK\n") == [b"3 OK"]
    assert s.overlong == 1
    assert s.feed(b"\n") == [b""]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=700), max_size=8))
def test_garbage_only_ever_raises_parse_errors(chunks: list[bytes]) -> None:
    splitter = LineSplitter()
    for chunk in chunks:
        for line in splitter.feed(chunk):
            assert len(line) <= MAX_LINE + 1
            for parse in (parse_incoming, parse_request):
                try:
                    message = parse(line)
                except TerminalParseError:
                    continue
                if isinstance(message, Reply | Notice):
                    with contextlib.suppress(TerminalParseError):
                        terminal_status(message.fields)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.integers(min_value=0, max_value=300))
def test_a_good_line_survives_any_split(prefix: bytes, cut: int) -> None:
    """Garbage before a newline never eats the next good line, however the stream is cut."""
    good = format_notice("CALL", state="connected", address="main@mcu")
    stream = prefix.replace(b"\n", b"") + b"\n" + good
    cut = min(cut, len(stream))
    splitter = LineSplitter()
    lines = splitter.feed(stream[:cut]) + splitter.feed(stream[cut:])
    assert parse_incoming(lines[-1]) == Notice("CALL", {"state": "connected", "address": "main@mcu"})
