"""The terminal client against a scripted TCP peer: replies by tag, notices, garbage, loss, timeouts."""

from __future__ import annotations

import asyncio

import pytest

from protocols.errors import TerminalConnectionError, TerminalRequestError
from protocols.terminal import Notice
from protocols.terminal_client import TerminalClient
from tests.support import free_port


def test_replies_notices_garbage_and_loss() -> None:
    async def scenario() -> None:
        peer_writers: list[asyncio.StreamWriter] = []

        async def peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            peer_writers.append(writer)
            writer.write(b"* HELLO proto=1\r\n\x00\x01 garbage \xff\n" + b"z" * 2000 + b"\n")
            while line := await reader.readline():
                tag, verb = line.split()[:2]
                if verb == b"STATUS":
                    # an unsolicited notice and a stray reply first, the answer split in two writes
                    writer.write(b"* CALL state=idle\n99 OK\n" + tag + b" OK call=id")
                    await writer.drain()
                    writer.write(b"le\n")
                elif verb == b"DIAL":
                    writer.write(tag + b" ERR code=busy msg=in%20a%20call\n")
                # SILENT: no answer at all

        server = await asyncio.start_server(peer, "127.0.0.1", free_port())
        port = server.sockets[0].getsockname()[1]
        notices: list[Notice] = []
        closed = asyncio.Event()
        client = await TerminalClient.connect("127.0.0.1", port, 2, notices.append, closed.set)
        assert await client.request("STATUS") == {"call": "idle"}
        with pytest.raises(TerminalRequestError) as err:
            await client.request("DIAL", address="x@y")
        assert (err.value.code, err.value.message) == ("busy", "in a call")
        with pytest.raises(TerminalConnectionError):
            await client.request("SILENT", timeout_s=0.2)
        assert [n.topic for n in notices] == ["HELLO", "CALL"]
        assert (client.bad_lines, client.overlong_lines, client.stray_replies) == (1, 1, 1)

        pending = asyncio.create_task(client.request("SILENT", timeout_s=5))
        await asyncio.sleep(0.05)
        peer_writers[0].close()
        with pytest.raises(TerminalConnectionError):
            await pending
        await asyncio.wait_for(closed.wait(), 2)
        assert client.closed
        with pytest.raises(TerminalConnectionError):
            await client.request("STATUS")
        await client.close()
        server.close()
        await server.wait_closed()

    asyncio.run(scenario())


def test_connect_refused() -> None:
    async def scenario() -> None:
        with pytest.raises(TerminalConnectionError, match="cannot connect"):
            await TerminalClient.connect("127.0.0.1", free_port(), 1)

    asyncio.run(scenario())
