"""The video-terminal control protocol (docs/video-terminals.md): line framing, parsing and building.

A line-based protocol over one TCP connection, of the kind conference terminals expose on their control
port. Every line ends with LF (a CR before it is dropped) and is at most :data:`MAX_LINE` bytes of UTF-8.

    client → terminal   ``<tag> <VERB> [key=value …]``            e.g. ``7 DIAL address=region-main@10.0.0.5``
    terminal → client   ``<tag> OK [key=value …]``                 the answer to request ``<tag>``
                        ``<tag> ERR code=<code> [msg=<text>]``     a refused request
                        ``* <TOPIC> [key=value …]``                unsolicited: HELLO, CALL, MUTE, STATS

Values are percent-encoded (space, ``%``, ``=`` and control characters never appear raw). Parsing is split
from building (:func:`parse_incoming` / :func:`parse_request` raise :class:`TerminalParseError`;
``format_*`` build), and :class:`LineSplitter` turns an arbitrary byte stream into lines, discarding overlong
ones, so garbage on the wire can only ever produce parse errors that the caller counts.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final
from urllib.parse import quote, unquote

from protocols.errors import TerminalParseError

PROTOCOL_VERSION: Final = 1
MAX_LINE: Final = 512
"""Longest line (bytes, without LF) either side accepts; longer ones are discarded up to the next LF."""
MAX_FIELDS: Final = 16

_TAG_RE = re.compile(r"^[A-Za-z0-9]{1,8}$")
_WORD_RE = re.compile(r"^[A-Z][A-Z0-9_]{0,15}$")
_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
ADDRESS_RE: Final = re.compile(r"^[A-Za-z0-9@._:+/-]{1,128}$")
"""A conference address: SIP URI user@host, H.323 alias or E.164 number, without a scheme."""
_SAFE = "@._:+/-,"


class Verb(StrEnum):
    DIAL = "DIAL"  # address=<conference address> [rate_kbps=<64..8192>]
    HANGUP = "HANGUP"
    MUTE = "MUTE"  # on=<0|1>
    PRESET = "PRESET"  # n=<0..15> (camera preset)
    STATUS = "STATUS"  # → call, address, muted, preset, bitrate_kbps, loss_pct, jitter_ms


class Topic(StrEnum):
    HELLO = "HELLO"  # proto, model, serial — once, when the connection opens
    CALL = "CALL"  # state, address, reason — on every call state change
    MUTE = "MUTE"  # on — when the microphone is muted or unmuted (also from the terminal's own remote)
    STATS = "STATS"  # bitrate_kbps, loss_pct, jitter_ms — periodically while in a call


class CallState(StrEnum):
    IDLE = "idle"
    DIALING = "dialing"
    CONNECTED = "connected"


class ErrorCode(StrEnum):
    BAD_REQUEST = "bad_request"
    UNKNOWN_VERB = "unknown_verb"
    BUSY = "busy"  # DIAL while dialing or connected
    NOT_IN_CALL = "not_in_call"  # HANGUP while idle
    FAILED = "failed"  # the terminal could not do it


Fields = dict[str, str]


@dataclass(frozen=True, slots=True)
class Request:
    tag: str
    verb: str
    fields: Fields = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Reply:
    tag: str
    ok: bool
    fields: Fields = field(default_factory=dict)

    @property
    def code(self) -> str:
        return self.fields.get("code", "")

    @property
    def message(self) -> str:
        return self.fields.get("msg", "")


@dataclass(frozen=True, slots=True)
class Notice:
    topic: str
    fields: Fields = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CallStats:
    bitrate_kbps: float = 0.0
    loss_pct: float = 0.0
    jitter_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class TerminalStatus:
    """The answer to ``STATUS``: the call and the terminal's settings."""

    call: CallState = CallState.IDLE
    address: str = ""
    muted: bool = False
    preset: int = 0
    stats: CallStats = CallStats()


# -- framing ---------------------------------------------------------------------------------------------


class LineSplitter:
    """Bytes in, complete lines out; an overlong line is dropped (and counted) up to its LF."""

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self._max = max_line
        self._buf = bytearray()
        self._skipping = False
        self.overlong = 0

    def feed(self, data: bytes) -> list[bytes]:
        lines: list[bytes] = []
        start = 0
        while True:
            nl = data.find(b"\n", start)
            if nl < 0:
                break
            self._take(data[start:nl])
            if not self._skipping:
                line = bytes(self._buf)
                lines.append(line[:-1] if line.endswith(b"\r") else line)
            self._buf.clear()
            self._skipping = False
            start = nl + 1
        self._take(data[start:])
        return lines

    def _take(self, chunk: bytes) -> None:
        if self._skipping:
            return
        if len(self._buf) + len(chunk) > self._max + 1:  # +1: room for a CR before the LF
            self._buf.clear()
            self._skipping = True
            self.overlong += 1
            return
        self._buf += chunk

    @property
    def pending(self) -> int:
        """Bytes of an unfinished line held back (a half line waits for its LF)."""
        return len(self._buf)


# -- parsing ---------------------------------------------------------------------------------------------


def _decode(line: bytes) -> list[str]:
    if len(line) > MAX_LINE + 1:
        raise TerminalParseError("line too long")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as err:
        raise TerminalParseError(f"not UTF-8: {err.reason}") from err
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        raise TerminalParseError("control character in line")
    words = text.split()
    if not words:
        raise TerminalParseError("empty line")
    return words


def _fields(words: list[str]) -> Fields:
    if len(words) > MAX_FIELDS:
        raise TerminalParseError(f"more than {MAX_FIELDS} fields")
    out: Fields = {}
    for word in words:
        key, sep, raw = word.partition("=")
        if not sep or not _KEY_RE.match(key):
            raise TerminalParseError(f"not a key=value field: {word[:40]!r}")
        if key in out:
            raise TerminalParseError(f"field {key!r} twice")
        try:
            out[key] = unquote(raw, errors="strict")
        except UnicodeDecodeError as err:
            raise TerminalParseError(f"field {key!r}: bad percent-encoding") from err
    return out


def parse_incoming(line: bytes) -> Reply | Notice:
    """A line from the terminal: a reply to a request or an unsolicited notice."""
    words = _decode(line)
    head = words[0]
    if head == "*":
        if len(words) < 2 or not _WORD_RE.match(words[1]):
            raise TerminalParseError("notice without a topic")
        return Notice(words[1], _fields(words[2:]))
    if not _TAG_RE.match(head):
        raise TerminalParseError(f"bad tag {head[:20]!r}")
    if len(words) < 2 or words[1] not in ("OK", "ERR"):
        raise TerminalParseError("reply is neither OK nor ERR")
    return Reply(head, words[1] == "OK", _fields(words[2:]))


def parse_request(line: bytes) -> Request:
    """A line from the client (the terminal side, i.e. the simulator, uses this)."""
    words = _decode(line)
    if not _TAG_RE.match(words[0]):
        raise TerminalParseError(f"bad tag {words[0][:20]!r}")
    if len(words) < 2 or not _WORD_RE.match(words[1]):
        raise TerminalParseError("request without a verb")
    return Request(words[0], words[1], _fields(words[2:]))


def number(fields: Fields, key: str, default: float = 0.0) -> float:
    """A finite number from a field (missing → ``default``)."""
    raw = fields.get(key)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError as err:
        raise TerminalParseError(f"{key}={raw[:20]!r} is not a number") from err
    if not math.isfinite(value):
        raise TerminalParseError(f"{key} is not finite")
    return value


def flag(fields: Fields, key: str) -> bool:
    raw = fields.get(key, "0")
    if raw not in ("0", "1"):
        raise TerminalParseError(f"{key}={raw[:20]!r} is not 0 or 1")
    return raw == "1"


def call_state(fields: Fields, key: str = "state") -> CallState:
    raw = fields.get(key, "")
    try:
        return CallState(raw)
    except ValueError as err:
        raise TerminalParseError(f"{key}={raw[:20]!r} is not a call state") from err


def call_stats(fields: Fields) -> CallStats:
    return CallStats(number(fields, "bitrate_kbps"), number(fields, "loss_pct"), number(fields, "jitter_ms"))


def terminal_status(fields: Fields) -> TerminalStatus:
    preset = number(fields, "preset")
    return TerminalStatus(
        call=call_state(fields, "call"),
        address="" if fields.get("address", "-") == "-" else fields["address"],
        muted=flag(fields, "muted"),
        preset=int(preset),
        stats=call_stats(fields),
    )


# -- building --------------------------------------------------------------------------------------------


def _value(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".")
    return quote(str(value), safe=_SAFE)


def _line(words: list[str], fields: dict[str, str | int | float | bool]) -> bytes:
    for key in fields:
        if not _KEY_RE.match(key):
            raise ValueError(f"bad field name {key!r}")
    parts = words + [f"{k}={_value(v)}" for k, v in fields.items()]
    line = " ".join(parts).encode()
    if len(line) > MAX_LINE:
        raise ValueError("line too long")
    return line + b"\r\n"


def format_request(tag: str, verb: str, **fields: str | int | float | bool) -> bytes:
    if not _TAG_RE.match(tag) or not _WORD_RE.match(verb):
        raise ValueError(f"bad tag or verb {tag!r} {verb!r}")
    return _line([tag, verb], fields)


def format_reply(tag: str, ok: bool = True, /, **fields: str | int | float | bool) -> bytes:
    return _line([tag, "OK" if ok else "ERR"], fields)


def format_notice(topic: str, **fields: str | int | float | bool) -> bytes:
    if not _WORD_RE.match(topic):
        raise ValueError(f"bad topic {topic!r}")
    return _line(["*", topic], fields)


def status_fields(status: TerminalStatus) -> dict[str, str | int | float | bool]:
    return {
        "call": status.call.value,
        "address": status.address or "-",
        "muted": status.muted,
        "preset": status.preset,
        **stats_fields(status.stats),
    }


def stats_fields(stats: CallStats) -> dict[str, str | int | float | bool]:
    return {"bitrate_kbps": stats.bitrate_kbps, "loss_pct": stats.loss_pct, "jitter_ms": stats.jitter_ms}
