"""A small IPP/1.1 client (RFC 8010 encoding, RFC 8011 operations) over httpx, for the printer driver.

Encoding and decoding are split: :func:`encode_message` builds, :func:`decode_message` parses and raises
:class:`IppDecodeError` naming what is wrong (truncated header, a value of the wrong length, a collection that
never ends, …) — never ``IndexError`` or ``struct.error``. :class:`IppClient` speaks to ``ipp://host:port/path``
(sent as ``http://``; ``ipps://`` as ``https://``) and offers the operations a counter printer needs:
Print-Job, Get-Job-Attributes, Get-Jobs, Cancel-Job and Get-Printer-Attributes.

Errors:

    IppError                -- root; every failure of this module is one of these
    ├── IppDecodeError      -- bytes that are not a valid IPP message
    ├── IppConnectionError  -- the printer cannot be reached, timed out, or answered with a non-IPP HTTP reply
    └── IppStatusError      -- the printer answered with an error status; ``status`` and ``status_name``
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from enum import IntEnum
from typing import TYPE_CHECKING, Final, TypeAlias
from urllib.parse import urlsplit, urlunsplit

IPP_VERSION: Final = (1, 1)
MAX_RESPONSE_BYTES: Final = 8 * 1024 * 1024
MAX_COLLECTION_DEPTH: Final = 16


class IppError(Exception):
    """Root of the IPP client's errors."""


class IppDecodeError(IppError):
    """Bytes that are not a valid IPP message."""


class IppConnectionError(IppError):
    """The printer cannot be reached, did not answer in time, or gave a non-IPP HTTP reply."""


class IppStatusError(IppError):
    """The printer refused the request; ``status`` is the IPP status code, ``status_name`` its keyword."""

    def __init__(self, operation: str, status: int, message: str = "") -> None:
        self.status = status
        self.status_name = status_name(status)
        self.message = message
        detail = f" ({message})" if message else ""
        super().__init__(f"{operation}: {self.status_name}{detail}")


class Operation(IntEnum):
    PRINT_JOB = 0x0002
    CANCEL_JOB = 0x0008
    GET_JOB_ATTRIBUTES = 0x0009
    GET_JOBS = 0x000A
    GET_PRINTER_ATTRIBUTES = 0x000B


class Group(IntEnum):
    OPERATION = 0x01
    JOB = 0x02
    END = 0x03
    PRINTER = 0x04
    UNSUPPORTED = 0x05


class Tag(IntEnum):
    UNSUPPORTED = 0x10
    UNKNOWN = 0x12
    NO_VALUE = 0x13
    INTEGER = 0x21
    BOOLEAN = 0x22
    ENUM = 0x23
    OCTET_STRING = 0x30
    DATE_TIME = 0x31
    RESOLUTION = 0x32
    RANGE = 0x33
    BEGIN_COLLECTION = 0x34
    TEXT_WITH_LANGUAGE = 0x35
    NAME_WITH_LANGUAGE = 0x36
    END_COLLECTION = 0x37
    TEXT = 0x41
    NAME = 0x42
    KEYWORD = 0x44
    URI = 0x45
    URI_SCHEME = 0x46
    CHARSET = 0x47
    LANGUAGE = 0x48
    MIME_TYPE = 0x49
    MEMBER_NAME = 0x4A


class JobState(IntEnum):
    PENDING = 3
    PENDING_HELD = 4
    PROCESSING = 5
    PROCESSING_STOPPED = 6
    CANCELED = 7
    ABORTED = 8
    COMPLETED = 9

    @property
    def keyword(self) -> str:
        return self.name.lower().replace("_", "-")

    @property
    def terminal(self) -> bool:
        return self >= JobState.CANCELED


class PrinterState(IntEnum):
    IDLE = 3
    PROCESSING = 4
    STOPPED = 5


STATUS_NAMES: Final[dict[int, str]] = {
    0x0000: "successful-ok",
    0x0001: "successful-ok-ignored-or-substituted-attributes",
    0x0002: "successful-ok-conflicting-attributes",
    0x0400: "client-error-bad-request",
    0x0401: "client-error-forbidden",
    0x0402: "client-error-not-authenticated",
    0x0403: "client-error-not-authorized",
    0x0404: "client-error-not-possible",
    0x0405: "client-error-timeout",
    0x0406: "client-error-not-found",
    0x0407: "client-error-gone",
    0x0408: "client-error-request-entity-too-large",
    0x0409: "client-error-request-value-too-long",
    0x040A: "client-error-document-format-not-supported",
    0x040B: "client-error-attributes-or-values-not-supported",
    0x040C: "client-error-uri-scheme-not-supported",
    0x040D: "client-error-charset-not-supported",
    0x040E: "client-error-conflicting-attributes",
    0x040F: "client-error-compression-not-supported",
    0x0410: "client-error-compression-error",
    0x0411: "client-error-document-format-error",
    0x0412: "client-error-document-access-error",
    0x0500: "server-error-internal-error",
    0x0501: "server-error-operation-not-supported",
    0x0502: "server-error-service-unavailable",
    0x0503: "server-error-version-not-supported",
    0x0504: "server-error-device-error",
    0x0505: "server-error-temporary-error",
    0x0506: "server-error-not-accepting-jobs",
    0x0507: "server-error-busy",
    0x0508: "server-error-job-canceled",
    0x0509: "server-error-multiple-document-jobs-not-supported",
}


def status_name(status: int) -> str:
    """The keyword of an IPP status code; unknown codes are named by their class and hex value."""
    if status in STATUS_NAMES:
        return STATUS_NAMES[status]
    kind = {0: "successful", 4: "client-error", 5: "server-error"}.get(status >> 8, "unknown-status")
    return f"{kind}-0x{status:04x}"


@dataclass(frozen=True, slots=True)
class Resolution:
    x: int
    y: int
    units: int  # 3 = dots per inch, 4 = dots per centimetre


@dataclass(frozen=True, slots=True)
class Range:
    lower: int
    upper: int


Value: TypeAlias = "int | bool | str | bytes | Resolution | Range | datetime | dict[str, Attribute] | None"
"""One attribute value; ``None`` is an out-of-band value (unknown, no-value, unsupported)."""


@dataclass(frozen=True, slots=True)
class Attribute:
    """A named attribute with the tag of its values (one tag for all values, as IPP clients send them)."""

    name: str
    tag: int
    values: tuple[Value, ...]

    @property
    def value(self) -> Value:
        return self.values[0] if self.values else None


@dataclass(slots=True)
class Message:
    """A request (``code`` = operation) or response (``code`` = status); groups in wire order."""

    code: int
    request_id: int
    groups: list[tuple[int, dict[str, Attribute]]] = field(default_factory=list)
    data: bytes = b""
    version: tuple[int, int] = IPP_VERSION

    def group(self, tag: int) -> dict[str, Attribute]:
        """The first group with ``tag`` (empty if none)."""
        return next((attrs for t, attrs in self.groups if t == tag), {})

    def all_groups(self, tag: int) -> list[dict[str, Attribute]]:
        return [attrs for t, attrs in self.groups if t == tag]

    @property
    def status_message(self) -> str:
        attr = self.group(Group.OPERATION).get("status-message")
        return attr.value if attr is not None and isinstance(attr.value, str) else ""


# -- decoding ----------------------------------------------------------------------------------------------


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int, what: str) -> bytes:
        if n > len(self.data) - self.pos:
            raise IppDecodeError(
                f"truncated {what} at offset {self.pos}: need {n} bytes, {len(self.data) - self.pos} left"
            )
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def u8(self, what: str) -> int:
        return self.take(1, what)[0]

    def u16(self, what: str) -> int:
        return int.from_bytes(self.take(2, what), "big")

    def peek(self) -> int | None:
        return self.data[self.pos] if self.pos < len(self.data) else None


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def _int32(raw: bytes, name: str) -> int:
    if len(raw) != 4:
        raise IppDecodeError(f"attribute {name!r}: integer value of {len(raw)} bytes, expected 4")
    return int.from_bytes(raw, "big", signed=True)


def _date(raw: bytes, name: str) -> datetime:
    if len(raw) != 11:
        raise IppDecodeError(f"attribute {name!r}: dateTime value of {len(raw)} bytes, expected 11")
    year, month, day, hour, minute, sec, decis, sign, tzh, tzm = struct.unpack(">HBBBBBBcBB", raw)
    if sign not in (b"+", b"-") or tzh > 14 or tzm > 59:
        raise IppDecodeError(f"attribute {name!r}: bad dateTime time zone")
    offset = timedelta(hours=tzh, minutes=tzm) * (1 if sign == b"+" else -1)
    try:
        return datetime(year, month, day, hour, minute, sec, decis * 100_000, timezone(offset))
    except ValueError as err:
        raise IppDecodeError(f"attribute {name!r}: bad dateTime: {err}") from err


def _with_language(raw: bytes, name: str) -> str:
    r = _Reader(raw)
    try:
        r.take(r.u16("language length"), "language")
        text = r.take(r.u16("text length"), "text")
    except IppDecodeError as err:
        raise IppDecodeError(f"attribute {name!r}: bad text-with-language value: {err}") from err
    return _text(text)


def _simple_value(tag: int, raw: bytes, name: str) -> Value:
    if 0x10 <= tag <= 0x1F:
        return None
    if tag in (Tag.INTEGER, Tag.ENUM):
        return _int32(raw, name)
    if tag == Tag.BOOLEAN:
        if len(raw) != 1:
            raise IppDecodeError(f"attribute {name!r}: boolean value of {len(raw)} bytes, expected 1")
        return raw != b"\x00"
    if tag == Tag.DATE_TIME:
        return _date(raw, name)
    if tag == Tag.RESOLUTION:
        if len(raw) != 9:
            raise IppDecodeError(f"attribute {name!r}: resolution value of {len(raw)} bytes, expected 9")
        x, y, units = struct.unpack(">iib", raw)
        return Resolution(x, y, units)
    if tag == Tag.RANGE:
        if len(raw) != 8:
            raise IppDecodeError(f"attribute {name!r}: rangeOfInteger of {len(raw)} bytes, expected 8")
        lower, upper = struct.unpack(">ii", raw)
        return Range(lower, upper)
    if tag in (Tag.TEXT_WITH_LANGUAGE, Tag.NAME_WITH_LANGUAGE):
        return _with_language(raw, name)
    if 0x40 <= tag <= 0x5F:
        return _text(raw)
    return raw  # octetString and unknown tags: the bytes as sent


def _read_value(r: _Reader) -> tuple[int, str, bytes]:
    tag = r.u8("value tag")
    if tag == 0x7F:
        raise IppDecodeError(f"extended value tag at offset {r.pos - 1} is not supported")
    name = _text(r.take(r.u16("name length"), "attribute name"))
    raw = r.take(r.u16("value length"), f"value of {name or 'additional value'!r}")
    return tag, name, raw


def _read_collection(r: _Reader, owner: str, depth: int) -> dict[str, Attribute]:
    if depth > MAX_COLLECTION_DEPTH:
        raise IppDecodeError(f"collection {owner!r} nested deeper than {MAX_COLLECTION_DEPTH}")
    members: dict[str, Attribute] = {}
    member: Attribute | None = None
    while True:
        tag = r.peek()
        if tag is None or tag < 0x10:
            raise IppDecodeError(
                f"collection {owner!r} is not terminated (no endCollection before offset {r.pos})"
            )
        tag, _name, raw = _read_value(r)
        if tag == Tag.END_COLLECTION:
            return members
        if tag == Tag.MEMBER_NAME:
            member = Attribute(_text(raw), -1, ())
            continue
        if member is None:
            raise IppDecodeError(f"collection {owner!r}: value before any member name")
        value: Value = (
            _read_collection(r, member.name, depth + 1)
            if tag == Tag.BEGIN_COLLECTION
            else _simple_value(tag, raw, member.name)
        )
        member = Attribute(member.name, tag if member.tag < 0 else member.tag, (*member.values, value))
        members[member.name] = member


def decode_message(data: bytes) -> Message:
    """Parse one IPP message (request or response); raises :class:`IppDecodeError` naming the fault."""
    r = _Reader(data)
    version = (r.u8("version"), r.u8("version"))
    code = r.u16("operation/status code")
    request_id = int.from_bytes(r.take(4, "request id"), "big")
    msg = Message(code, request_id, version=version)
    attrs: dict[str, Attribute] | None = None
    last: Attribute | None = None
    while True:
        tag = r.peek()
        if tag is None:
            raise IppDecodeError("truncated message: no end-of-attributes tag")
        if tag < 0x10:
            r.pos += 1
            if tag == Group.END:
                break
            if tag == 0x00:
                raise IppDecodeError(f"reserved delimiter tag 0x00 at offset {r.pos - 1}")
            attrs = {}
            msg.groups.append((tag, attrs))
            last = None
            continue
        if attrs is None:
            raise IppDecodeError(f"attribute at offset {r.pos} outside any attribute group")
        vtag, name, raw = _read_value(r)
        if vtag == Tag.END_COLLECTION or vtag == Tag.MEMBER_NAME:
            raise IppDecodeError(f"collection tag 0x{vtag:02x} outside a collection at offset {r.pos}")
        label = name or (last.name if last else "")
        value = (
            _read_collection(r, label, 1) if vtag == Tag.BEGIN_COLLECTION else _simple_value(vtag, raw, label)
        )
        if name:
            last = Attribute(name, vtag, (value,))
        elif last is None:
            raise IppDecodeError(f"additional value at offset {r.pos} without an attribute")
        else:
            last = Attribute(last.name, last.tag, (*last.values, value))
        attrs[last.name] = last
    msg.data = data[r.pos :]
    return msg


# -- encoding ----------------------------------------------------------------------------------------------


def _encode_value(tag: int, value: Value) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bool):
        return b"\x01" if value else b"\x00"
    if isinstance(value, int):
        return value.to_bytes(4, "big", signed=True)
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes):
        return value
    if isinstance(value, Resolution):
        return struct.pack(">iib", value.x, value.y, value.units)
    if isinstance(value, Range):
        return struct.pack(">ii", value.lower, value.upper)
    if isinstance(value, datetime):
        v = value if value.tzinfo else value.replace(tzinfo=UTC)
        off = v.utcoffset() or timedelta(0)
        minutes = abs(int(off.total_seconds())) // 60
        sign = b"+" if off >= timedelta(0) else b"-"
        return struct.pack(
            ">HBBBBBBcBB", v.year, v.month, v.day, v.hour, v.minute, v.second, v.microsecond // 100_000,
            sign, minutes // 60, minutes % 60,
        )  # fmt: skip
    raise IppError(f"cannot encode {type(value).__name__} with tag 0x{tag:02x}")


def _encode_attr(out: bytearray, attr: Attribute) -> None:
    for i, value in enumerate(attr.values or (None,)):
        name = attr.name.encode("utf-8") if i == 0 else b""
        tag = Tag.NO_VALUE if value is None and attr.tag not in range(0x10, 0x20) else attr.tag
        if isinstance(value, dict):
            out += bytes([Tag.BEGIN_COLLECTION]) + struct.pack(">H", len(name)) + name + b"\x00\x00"
            for member in value.values():
                member_name = member.name.encode("utf-8")
                out += bytes([Tag.MEMBER_NAME]) + b"\x00\x00" + struct.pack(">H", len(member_name))
                out += member_name
                _encode_attr(out, Attribute("", member.tag, member.values))
            out += bytes([Tag.END_COLLECTION]) + b"\x00\x00\x00\x00"
            continue
        raw = _encode_value(tag, value)
        if len(name) > 0xFFFF or len(raw) > 0xFFFF:
            raise IppError(f"attribute {attr.name!r}: name or value longer than 65535 bytes")
        out += bytes([tag]) + struct.pack(">H", len(name)) + name + struct.pack(">H", len(raw)) + raw


def encode_message(msg: Message) -> bytes:
    """Serialise a message: header, groups in order, end-of-attributes, then the document data."""
    out = bytearray(bytes(msg.version) + struct.pack(">HI", msg.code, msg.request_id))
    for group_tag, attrs in msg.groups:
        out.append(group_tag)
        for attr in attrs.values():
            _encode_attr(out, attr)
    out.append(Group.END)
    return bytes(out) + msg.data


def attrs(*items: Attribute) -> dict[str, Attribute]:
    return {a.name: a for a in items}


def keyword(name: str, *values: str) -> Attribute:
    return Attribute(name, Tag.KEYWORD, values)


def build_request(
    operation: Operation,
    printer_uri: str,
    user: str = "hallmesh",
    extra: Iterable[Attribute] = (),
    data: bytes = b"",
    job: Iterable[Attribute] = (),
    *,
    request_id: int = 1,
) -> bytes:
    """An encoded request: charset, language, printer-uri, requesting-user-name, then ``extra``; ``job``
    template attributes (such as ``copies``) in a job group; then the document ``data``."""
    op_attrs = attrs(
        Attribute("attributes-charset", Tag.CHARSET, ("utf-8",)),
        Attribute("attributes-natural-language", Tag.LANGUAGE, ("en",)),
        Attribute("printer-uri", Tag.URI, (printer_uri,)),
        Attribute("requesting-user-name", Tag.NAME, (user,)),
        *extra,
    )
    groups = [(int(Group.OPERATION), op_attrs)]
    job_attrs = attrs(*job)
    if job_attrs:
        groups.append((int(Group.JOB), job_attrs))
    return encode_message(Message(operation, request_id, groups, data))


# -- the client --------------------------------------------------------------------------------------------


def http_url(uri: str) -> str:
    """``ipp://host[:631]/path`` → ``http://host:631/path`` (``ipps`` → ``https``)."""
    parts = urlsplit(uri)
    scheme = {"ipp": "http", "ipps": "https", "http": "http", "https": "https"}.get(parts.scheme)
    if scheme is None or not parts.hostname:
        raise IppError(f"not an IPP URI: {uri!r}")
    netloc = parts.netloc if parts.port else f"{parts.netloc}:631"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


@dataclass(frozen=True, slots=True)
class JobStatus:
    """What Get-Job-Attributes (or Print-Job) says about one job."""

    job_id: int
    state: JobState
    reasons: tuple[str, ...]
    message: str = ""


def job_status(job: Mapping[str, Attribute]) -> JobStatus:
    """The job's id, state and reasons from a job attribute group; :class:`IppDecodeError` if missing."""
    job_id, state = job.get("job-id"), job.get("job-state")
    if job_id is None or not isinstance(job_id.value, int) or isinstance(job_id.value, bool):
        raise IppDecodeError("job attributes without an integer job-id")
    if state is None or state.value not in set(JobState):
        raise IppDecodeError(f"job {job_id.value}: missing or unknown job-state")
    assert isinstance(state.value, int)
    reasons = job.get("job-state-reasons")
    message = job.get("job-state-message")
    return JobStatus(
        job_id.value,
        JobState(state.value),
        tuple(str(v) for v in reasons.values if isinstance(v, str)) if reasons else (),
        message.value.strip() if message and isinstance(message.value, str) else "",
    )


if TYPE_CHECKING:
    import httpx


class IppClient:
    """An IPP/1.1 client for one printer URI; use ``async with`` or call :meth:`close`."""

    def __init__(
        self,
        uri: str,
        *,
        timeout_s: float = 10.0,
        user: str = "hallmesh",
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        import httpx  # here, not at the top: an agent without a printer need not load it

        self.uri = uri
        self.url = http_url(uri)
        self.user = user
        self._http = httpx.AsyncClient(timeout=timeout_s, transport=transport)
        self._request_id = 0

    async def __aenter__(self) -> IppClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def request(
        self,
        operation: Operation,
        extra: Iterable[Attribute] = (),
        data: bytes = b"",
        job: Iterable[Attribute] = (),
    ) -> Message:
        """Send ``operation`` with the standard operation attributes plus ``extra`` (and ``job`` template
        attributes, if any) and the document ``data``; return the response.

        Raises :class:`IppConnectionError`, :class:`IppDecodeError` or (error status) :class:`IppStatusError`.
        """
        import httpx

        self._request_id = self._request_id % 0x7FFFFFFF + 1
        body = build_request(operation, self.uri, self.user, extra, data, job, request_id=self._request_id)
        name = operation.name.replace("_", "-").title()
        try:
            reply = await self._http.post(self.url, content=body, headers={"Content-Type": "application/ipp"})
        except httpx.TimeoutException as err:
            raise IppConnectionError(f"{name} to {self.uri}: no answer in time") from err
        except httpx.HTTPError as err:
            raise IppConnectionError(f"{name} to {self.uri}: {err or type(err).__name__}") from err
        if reply.status_code != 200:
            raise IppConnectionError(f"{name} to {self.uri}: HTTP {reply.status_code}")
        if len(reply.content) > MAX_RESPONSE_BYTES:
            raise IppDecodeError(f"{name}: response of {len(reply.content)} bytes is too large")
        try:
            msg = decode_message(reply.content)
        except IppDecodeError as err:
            raise IppDecodeError(f"{name} response: {err}") from err
        if msg.code >= 0x0400:
            raise IppStatusError(name, msg.code, msg.status_message)
        return msg

    async def print_job(
        self,
        data: bytes,
        *,
        document_format: str = "application/pdf",
        job_name: str = "hallmesh",
        copies: int = 1,
    ) -> JobStatus:
        msg = await self.request(
            Operation.PRINT_JOB,
            (
                Attribute("job-name", Tag.NAME, (job_name,)),
                Attribute("document-format", Tag.MIME_TYPE, (document_format,)),
            ),
            data,
            job=(Attribute("copies", Tag.INTEGER, (copies,)),) if copies != 1 else (),
        )
        return job_status(msg.group(Group.JOB))

    async def get_job_attributes(self, job_id: int) -> JobStatus:
        msg = await self.request(
            Operation.GET_JOB_ATTRIBUTES,
            (
                Attribute("job-id", Tag.INTEGER, (job_id,)),
                keyword(
                    "requested-attributes", "job-id", "job-state", "job-state-reasons", "job-state-message"
                ),
            ),
        )
        return job_status(msg.group(Group.JOB))

    async def get_jobs(self, which: str = "not-completed") -> list[JobStatus]:
        msg = await self.request(
            Operation.GET_JOBS,
            (
                keyword("which-jobs", which),
                keyword(
                    "requested-attributes", "job-id", "job-state", "job-state-reasons", "job-state-message"
                ),
            ),
        )
        return [job_status(g) for g in msg.all_groups(Group.JOB)]

    async def cancel_job(self, job_id: int) -> None:
        await self.request(Operation.CANCEL_JOB, (Attribute("job-id", Tag.INTEGER, (job_id,)),))

    async def get_printer_attributes(self, requested: Sequence[str] = ()) -> dict[str, Attribute]:
        extra = (keyword("requested-attributes", *requested),) if requested else ()
        msg = await self.request(Operation.GET_PRINTER_ATTRIBUTES, extra)
        return msg.group(Group.PRINTER)
