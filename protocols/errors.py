"""Errors raised by the protocol layer.

ProtocolError
├── TopicError       -- a topic string that is not part of the contract
├── DecodeError      -- a payload that cannot be accepted; ``reason`` is one of DECODE_REASONS
└── TerminalError    -- the video-terminal control protocol (protocols.terminal, protocols.terminal_client)
    ├── TerminalParseError       -- a line that is not valid protocol (garbage, half or overlong lines)
    ├── TerminalConnectionError  -- cannot connect, connection lost, or no answer in time
    └── TerminalRequestError     -- the terminal answered ERR; ``code`` is its error code
"""

from __future__ import annotations

from typing import Final, Literal

DecodeReason = Literal[
    "unknown_topic",
    "too_large",
    "not_json",
    "bad_envelope",
    "unsupported_version",
    "agent_mismatch",
    "kind_mismatch",
    "device_mismatch",
    "bad_body",
]

DECODE_REASONS: Final[tuple[DecodeReason, ...]] = (
    "unknown_topic",
    "too_large",
    "not_json",
    "bad_envelope",
    "unsupported_version",
    "agent_mismatch",
    "kind_mismatch",
    "device_mismatch",
    "bad_body",
)


class ProtocolError(Exception):
    """Root of the protocol errors."""


class TopicError(ProtocolError):
    """A topic outside the hallmesh contract."""


class DecodeError(ProtocolError):
    """A payload rejected by the decoder.

    ``reason`` is a short, bounded code (usable as a metric label); ``detail`` says what exactly is wrong.
    """

    def __init__(self, reason: DecodeReason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason: DecodeReason = reason
        self.detail = detail


class TerminalError(ProtocolError):
    """Root of the video-terminal control protocol's errors."""


class TerminalParseError(TerminalError):
    """A line that is not valid terminal protocol."""


class TerminalConnectionError(TerminalError):
    """The control connection could not be opened, was lost, or a request got no answer in time."""


class TerminalRequestError(TerminalError):
    """The terminal refused a request (``ERR code=…``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message
