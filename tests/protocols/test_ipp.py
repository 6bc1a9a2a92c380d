"""The IPP codec and client: round trips of every value type, exact bytes of a request, malformed and
truncated input that raises only IppDecodeError, and the client's error mapping (httpx MockTransport)."""

from __future__ import annotations

import asyncio
import contextlib
import struct
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.ipp import (
    Attribute,
    Group,
    IppClient,
    IppConnectionError,
    IppDecodeError,
    IppError,
    IppStatusError,
    JobState,
    Message,
    Operation,
    Range,
    Resolution,
    Tag,
    attrs,
    build_request,
    decode_message,
    encode_message,
    http_url,
    job_status,
    keyword,
    status_name,
)


def _sample() -> Message:
    media_size = attrs(
        Attribute("x-dimension", Tag.INTEGER, (21000,)), Attribute("y-dimension", Tag.INTEGER, (29700,))
    )
    printer = attrs(
        Attribute("printer-state", Tag.ENUM, (3,)),
        keyword("printer-state-reasons", "media-jam-error", "toner-low-report"),
        Attribute("printer-is-accepting-jobs", Tag.BOOLEAN, (True,)),
        Attribute("queued-job-count", Tag.INTEGER, (-7,)),
        Attribute("printer-name", Tag.NAME, ("窗口 3 打印机",)),
        Attribute("printer-info", Tag.TEXT, ("counter printer",)),
        Attribute("printer-uri-supported", Tag.URI, ("ipp://localhost:631/ipp/print",)),
        Attribute("document-format-supported", Tag.MIME_TYPE, ("application/pdf", "image/jpeg")),
        Attribute("charset-configured", Tag.CHARSET, ("utf-8",)),
        Attribute("natural-language-configured", Tag.LANGUAGE, ("zh-cn",)),
        Attribute("copies-supported", Tag.RANGE, (Range(1, 99),)),
        Attribute("printer-resolution-default", Tag.RESOLUTION, (Resolution(600, 600, 3),)),
        Attribute("printer-supply", Tag.OCTET_STRING, (b"type=toner;level=42;", b"\x00\xff")),
        Attribute(
            "printer-current-time",
            Tag.DATE_TIME,
            (datetime(2026, 11, 28, 13, 30, 5, 700_000, timezone(timedelta(hours=8))),),
        ),
        Attribute(
            "media-col-default",
            Tag.BEGIN_COLLECTION,
            (
                {
                    "media-size": Attribute("media-size", Tag.BEGIN_COLLECTION, (media_size,)),
                    "media-type": Attribute("media-type", Tag.KEYWORD, ("stationery",)),
                },
            ),
        ),
        Attribute("printer-alert", Tag.NO_VALUE, (None,)),
    )
    return Message(
        0x0000, 42, [(Group.OPERATION, attrs(keyword("status-message", "ok"))), (Group.PRINTER, printer)]
    )


def test_every_value_type_round_trips() -> None:
    msg = _sample()
    decoded = decode_message(encode_message(msg))
    assert (decoded.version, decoded.code, decoded.request_id) == ((1, 1), 0, 42)
    assert decoded.groups == msg.groups
    printer = decoded.group(Group.PRINTER)
    assert printer["printer-current-time"].value == datetime(2026, 11, 28, 5, 30, 5, 700_000, UTC)
    media = printer["media-col-default"].value
    assert isinstance(media, dict)
    size = media["media-size"].value
    assert isinstance(size, dict)
    assert size["x-dimension"].value == 21000
    assert decoded.all_groups(Group.JOB) == []


def test_request_bytes_follow_rfc_8010() -> None:
    raw = build_request(
        Operation.GET_JOBS, "ipp://h/ipp/print", "clerk", (keyword("which-jobs", "completed"),)
    )
    assert raw[:8] == b"\x01\x01\x00\x0a\x00\x00\x00\x01"
    assert raw[8] == Group.OPERATION
    # first attribute: charset "attributes-charset" = "utf-8"
    assert raw[9:12] == bytes([Tag.CHARSET]) + struct.pack(">H", 18)
    assert raw[12:30] == b"attributes-charset"
    assert raw[30:37] == b"\x00\x05utf-8"
    assert raw.endswith(b"\x44\x00\x0awhich-jobs\x00\x09completed\x03")
    names = list(decode_message(raw).group(Group.OPERATION))
    assert names == [
        "attributes-charset", "attributes-natural-language", "printer-uri", "requesting-user-name", "which-jobs",
    ]  # fmt: skip


def test_document_data_follows_the_attributes() -> None:
    raw = build_request(Operation.PRINT_JOB, "ipp://h/p", data=b"%PDF-1.4\x03\x00", job=(
        Attribute("copies", Tag.INTEGER, (2,)),
    ))  # fmt: skip
    msg = decode_message(raw)
    assert msg.data == b"%PDF-1.4\x03\x00"
    assert msg.group(Group.JOB)["copies"].value == 2


def test_text_with_language_and_out_of_band_values_decode() -> None:
    value = struct.pack(">H", 5) + b"zh-cn" + struct.pack(">H", 6) + "卡纸".encode()
    raw = (
        b"\x01\x01\x00\x00\x00\x00\x00\x07\x04"
        + bytes([Tag.TEXT_WITH_LANGUAGE]) + struct.pack(">H", 13) + b"printer-state" + struct.pack(">H", len(value))
        + value
        + bytes([Tag.UNKNOWN]) + struct.pack(">H", 1) + b"x" + b"\x00\x00"
        + b"\x03"
    )  # fmt: skip
    printer = decode_message(raw).group(Group.PRINTER)
    assert printer["printer-state"].value == "卡纸"
    assert printer["x"].values == (None,)


def _attr(tag: int, name: bytes, value: bytes) -> bytes:
    return bytes([tag]) + struct.pack(">H", len(name)) + name + struct.pack(">H", len(value)) + value


HEADER = b"\x01\x01\x00\x00\x00\x00\x00\x01"


@pytest.mark.parametrize(
    ("raw", "fault"),
    [
        (b"", "truncated version"),
        (b"\x01\x01\x00", "truncated operation/status code"),
        (HEADER, "no end-of-attributes tag"),
        (HEADER + b"\x04", "no end-of-attributes tag"),
        (HEADER + b"\x04\x21\x00\x05", "truncated attribute name"),
        (HEADER + b"\x04" + _attr(Tag.INTEGER, b"n", b"\x00\x01\x02") + b"\x03", "integer value of 3 bytes"),
        (HEADER + b"\x04" + _attr(Tag.BOOLEAN, b"b", b"") + b"\x03", "boolean value of 0 bytes"),
        (HEADER + b"\x04" + _attr(Tag.RANGE, b"r", b"\x00" * 7) + b"\x03", "rangeOfInteger of 7 bytes"),
        (HEADER + b"\x04" + _attr(Tag.RESOLUTION, b"r", b"\x00" * 3) + b"\x03", "resolution value of 3"),
        (HEADER + b"\x04" + _attr(Tag.DATE_TIME, b"d", b"\x07\xea\x0d" + b"\x00" * 5 + b"+\x00\x00") + b"\x03",
         "bad dateTime"),
        (HEADER + b"\x04" + _attr(Tag.DATE_TIME, b"d", b"\x00" * 4) + b"\x03", "dateTime value of 4 bytes"),
        (HEADER + b"\x04" + _attr(Tag.TEXT_WITH_LANGUAGE, b"t", b"\x00\x09en") + b"\x03", "text-with-language"),
        (HEADER + _attr(Tag.INTEGER, b"n", b"\x00\x00\x00\x01") + b"\x03", "outside any attribute group"),
        (HEADER + b"\x04" + _attr(Tag.INTEGER, b"", b"\x00\x00\x00\x01") + b"\x03", "without an attribute"),
        (HEADER + b"\x04" + _attr(Tag.BEGIN_COLLECTION, b"c", b"") + b"\x03", "not terminated"),
        (HEADER + b"\x04" + _attr(Tag.BEGIN_COLLECTION, b"c", b"") + _attr(Tag.INTEGER, b"", b"\x00" * 4)
         + _attr(Tag.END_COLLECTION, b"", b"") + b"\x03", "value before any member name"),
        (HEADER + b"\x04" + _attr(Tag.END_COLLECTION, b"", b"") + b"\x03", "outside a collection"),
        (HEADER + b"\x04" + _attr(Tag.BEGIN_COLLECTION, b"c", b"")
         + (_attr(Tag.MEMBER_NAME, b"", b"m") + _attr(Tag.BEGIN_COLLECTION, b"", b"")) * 40, "nested deeper"),
        (HEADER + b"\x04\x7f\x00\x01x\x00\x00\x03", "extended value tag"),
        (HEADER + b"\x00\x03", "reserved delimiter"),
    ],
)  # fmt: skip
def test_malformed_input_names_the_fault(raw: bytes, fault: str) -> None:
    with pytest.raises(IppDecodeError, match=fault):
        decode_message(raw)


def test_every_truncation_of_a_valid_message_is_a_decode_error() -> None:
    raw = encode_message(_sample())
    for n in range(len(raw)):
        with pytest.raises(IppDecodeError):
            decode_message(raw[:n])


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_raise_nothing_but_ipp_error(raw: bytes) -> None:
    with contextlib.suppress(IppError):
        decode_message(raw)


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_mutated_messages_raise_nothing_but_ipp_error(data: st.DataObject) -> None:
    raw = bytearray(encode_message(_sample()))
    for _ in range(data.draw(st.integers(1, 6))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    with contextlib.suppress(IppError):
        decode_message(bytes(raw[:cut]))


def test_status_names() -> None:
    assert status_name(0x0000) == "successful-ok"
    assert status_name(0x040A) == "client-error-document-format-not-supported"
    assert status_name(0x0507) == "server-error-busy"
    assert status_name(0x04FF) == "client-error-0x04ff"
    assert status_name(0x0900) == "unknown-status-0x0900"


def test_ipp_uris_become_http_urls() -> None:
    assert http_url("ipp://localhost:8631/ipp/print") == "http://localhost:8631/ipp/print"
    assert http_url("ipp://printer.local/ipp/print") == "http://printer.local:631/ipp/print"
    assert http_url("ipps://[::1]:443/x") == "https://[::1]:443/x"
    for bad in ("ftp://x/y", "ipp:///nohost", "printer"):
        with pytest.raises(IppError, match="not an IPP URI"):
            http_url(bad)


def test_job_status_needs_id_and_state() -> None:
    job = attrs(Attribute("job-id", Tag.INTEGER, (5,)), Attribute("job-state", Tag.ENUM, (9,)))
    assert job_status(job).state is JobState.COMPLETED
    assert JobState.COMPLETED.keyword == "completed"
    assert JobState.PROCESSING_STOPPED.keyword == "processing-stopped"
    with pytest.raises(IppDecodeError, match="job-id"):
        job_status({})
    with pytest.raises(IppDecodeError, match="job-state"):
        job_status(attrs(Attribute("job-id", Tag.INTEGER, (5,)), Attribute("job-state", Tag.ENUM, (42,))))


def _client(handler: object) -> IppClient:
    return IppClient("ipp://printer.test:631/ipp/print", transport=httpx.MockTransport(handler))  # type: ignore[arg-type]


def _reply(status: int, *groups: tuple[int, dict[str, Attribute]]) -> httpx.Response:
    msg = Message(
        status, 1, [(Group.OPERATION, attrs(Attribute("status-message", Tag.TEXT, ("why not",)))), *groups]
    )
    return httpx.Response(200, content=encode_message(msg), headers={"Content-Type": "application/ipp"})


def test_client_sends_print_job_and_reads_the_job() -> None:
    seen: list[Message] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert str(request.url) == "http://printer.test:631/ipp/print"
        assert request.headers["content-type"] == "application/ipp"
        seen.append(decode_message(request.content))
        job = attrs(
            Attribute("job-id", Tag.INTEGER, (17,)),
            Attribute("job-state", Tag.ENUM, (3,)),
            keyword("job-state-reasons", "none"),
        )
        return _reply(0, (Group.JOB, job))

    async def scenario() -> None:
        async with _client(handler) as client:
            status = await client.print_job(
                b"%PDF", job_name="cert", copies=3, document_format="application/pdf"
            )
            assert (status.job_id, status.state, status.reasons) == (17, JobState.PENDING, ("none",))

    asyncio.run(scenario())
    (req,) = seen
    assert req.code == Operation.PRINT_JOB
    op = req.group(Group.OPERATION)
    assert op["printer-uri"].value == "ipp://printer.test:631/ipp/print"
    assert (op["job-name"].value, op["document-format"].tag) == ("cert", Tag.MIME_TYPE)
    assert op["requesting-user-name"].value == "hallmesh"
    assert req.group(Group.JOB)["copies"].value == 3
    assert req.data == b"%PDF"


def test_client_maps_errors() -> None:
    replies = iter(
        [
            _reply(0x0406),
            httpx.Response(500),
            httpx.Response(200, content=b"\x01\x01"),
            httpx.Response(200, content=HEADER + b"\x04"),
        ]
    )

    def handler(request: httpx.Request) -> httpx.Response:
        reply = next(replies, None)
        if reply is None:
            raise httpx.ConnectError("connection refused")
        return reply

    async def scenario() -> None:
        async with _client(handler) as client:
            with pytest.raises(
                IppStatusError, match="Cancel-Job: client-error-not-found \\(why not\\)"
            ) as err:
                await client.cancel_job(9)
            assert (err.value.status, err.value.status_name) == (0x0406, "client-error-not-found")
            with pytest.raises(IppConnectionError, match="HTTP 500"):
                await client.get_printer_attributes()
            with pytest.raises(IppDecodeError, match="Get-Jobs response: truncated"):
                await client.get_jobs()
            with pytest.raises(IppDecodeError, match="no end-of-attributes"):
                await client.get_job_attributes(1)
            with pytest.raises(IppConnectionError, match="connection refused"):
                await client.get_printer_attributes(["printer-state"])

    asyncio.run(scenario())
