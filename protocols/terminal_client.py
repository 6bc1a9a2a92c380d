"""An asyncio client of the video-terminal control protocol (see :mod:`protocols.terminal`).

One reader task owns the socket's read side: it splits the stream into lines, hands replies to the request
waiting on their tag and notices to ``on_notice``. Lines that do not parse (garbage, half lines cut by a
reconnect, overlong lines) are counted in :attr:`TerminalClient.bad_lines` and skipped; they never end the
connection. When the connection ends, every waiting request fails with :class:`TerminalConnectionError`
and ``on_close`` is called once.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable

from protocols.errors import TerminalConnectionError, TerminalParseError, TerminalRequestError
from protocols.terminal import (
    Fields,
    LineSplitter,
    Notice,
    Reply,
    format_request,
    parse_incoming,
)

log = logging.getLogger(__name__)

READ_CHUNK = 4096


class TerminalClient:
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        on_notice: Callable[[Notice], None] = lambda _n: None,
        on_close: Callable[[], None] = lambda: None,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._on_notice = on_notice
        self._on_close = on_close
        self._splitter = LineSplitter()
        self._tags = itertools.count(1)
        self._waiting: dict[str, asyncio.Future[Reply]] = {}
        self._closed = False
        self.bad_lines = 0
        self.stray_replies = 0
        self._task = asyncio.get_running_loop().create_task(self._read(), name="terminal-reader")

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        timeout_s: float = 5.0,
        on_notice: Callable[[Notice], None] = lambda _n: None,
        on_close: Callable[[], None] = lambda: None,
    ) -> TerminalClient:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
        except (OSError, TimeoutError) as err:
            raise TerminalConnectionError(f"cannot connect to {host}:{port}: {err or 'timed out'}") from err
        return cls(reader, writer, on_notice, on_close)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def overlong_lines(self) -> int:
        return self._splitter.overlong

    async def request(self, verb: str, timeout_s: float = 5.0, **fields: str | int | float | bool) -> Fields:
        """Send ``verb`` and return the fields of its ``OK``; raise on ``ERR``, loss or timeout."""
        if self._closed:
            raise TerminalConnectionError("control connection is closed")
        tag = str(next(self._tags) % 100_000_000)
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._waiting[tag] = future
        try:
            self._writer.write(format_request(tag, verb, **fields))
            await asyncio.wait_for(self._writer.drain(), timeout_s)
            reply = await asyncio.wait_for(future, timeout_s)
        except TimeoutError as err:
            raise TerminalConnectionError(f"no answer to {verb} within {timeout_s:g} s") from err
        except (OSError, RuntimeError) as err:  # RuntimeError: transport closed under us
            await self._shutdown()
            raise TerminalConnectionError(f"control connection lost: {err}") from err
        finally:
            self._waiting.pop(tag, None)
        if not reply.ok:
            raise TerminalRequestError(reply.code or "error", reply.message)
        return reply.fields

    async def _read(self) -> None:
        try:
            while True:
                data = await self._reader.read(READ_CHUNK)
                if not data:
                    break
                for line in self._splitter.feed(data):
                    self._dispatch(line)
        except (OSError, asyncio.IncompleteReadError) as err:
            log.debug("terminal control connection lost: %s", err)
        finally:
            self._finish()

    def _dispatch(self, line: bytes) -> None:
        if not line.strip():
            return
        try:
            message = parse_incoming(line)
        except TerminalParseError as err:
            self.bad_lines += 1
            log.debug("ignored a bad line from the terminal: %s", err)
            return
        if isinstance(message, Notice):
            self._on_notice(message)
            return
        future = self._waiting.get(message.tag)
        if future is None or future.done():
            self.stray_replies += 1
            return
        future.set_result(message)

    def _finish(self) -> None:
        if self._closed:
            return
        self._closed = True
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(TerminalConnectionError("control connection closed"))
        self._waiting.clear()
        self._writer.close()
        self._on_close()

    async def _shutdown(self) -> None:
        self._finish()
        with contextlib.suppress(OSError, RuntimeError):
            await self._writer.wait_closed()

    async def close(self) -> None:
        """Close the connection and stop the reader; never raises."""
        self._finish()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, OSError, RuntimeError):
            await self._task
        with contextlib.suppress(OSError, RuntimeError):
            await self._writer.wait_closed()
