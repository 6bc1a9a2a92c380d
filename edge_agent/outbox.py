"""The agent's durable outbox (docs/protocol.md, "Outbox"): SQLite in the data directory.

Events and command results are written here **before** anything else happens with them, and leave only
when a ``down/ack`` names their message id. Each entry stores the exact envelope bytes, so a replay is byte
for byte the original; its ``seq`` (the row id, assigned inside the inserting transaction) is the
envelope's ``seq`` and keeps increasing across boots (``AUTOINCREMENT`` never reuses a number).

Durability: WAL with ``synchronous=FULL``. A SIGKILL of the agent alone loses nothing committed even with
``NORMAL``, but the counter PCs this runs on are switched off at the wall, and ``FULL`` also keeps the last
commits through a power cut. The cost (one fsync per commit) is paid per *batch*: the runtime commits
events in groups and acknowledgements arrive in groups, so throughput stays in the thousands per second.

The same database keeps the agent's ``meta`` (outbox epoch, boot counter, refused count) and the
``executed`` commands (cmd_id → status and stored result, kept 7 days) that make commands run at most once.
All methods are thread-safe.
"""

from __future__ import annotations

import json
import logging
import secrets
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, NamedTuple

from edge_agent.errors import OutboxError, OutboxFull
from protocols import envelope, topics
from protocols.envelope import Envelope
from protocols.messages import EventBody, OutboxStatus, ResultBody
from protocols.topics import Channel

log = logging.getLogger(__name__)

DB_NAME: Final = "outbox.sqlite3"
COMMAND_RETENTION_S: Final = 7 * 24 * 3600
RUNNING: Final = "running"
"""``executed.status`` of a command that was started but has no result yet (the agent died while running it)."""

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    msg_id TEXT NOT NULL UNIQUE,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS executed (
    cmd_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    result_id TEXT,
    result TEXT,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS executed_created ON executed (created);
"""


class Entry(NamedTuple):
    seq: int
    msg_id: str
    topic: str
    payload: bytes


@dataclass(frozen=True)
class CommandRecord:
    """What the agent remembers of a command it has seen."""

    status: str
    result_id: str | None
    result: ResultBody | None


OutboxBody = EventBody | ResultBody


class Outbox:
    """The outbox of one agent. Open with :meth:`open`; :meth:`close` when done."""

    def __init__(self, path: Path, agent_id: str, max_entries: int) -> None:
        self.path = path
        self.agent_id = agent_id
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._topics = {Channel.EVENT: topics.event(agent_id), Channel.RESULT: topics.result(agent_id)}
        self._full_logged = False
        self.boot = self.refused = self._depth = 0
        self._next_seq = 1
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            with self._tx():
                if self._meta("epoch") is None:
                    self._set_meta("epoch", secrets.token_hex(8))
                    self._set_meta("boot", "0")
                    self._set_meta("refused", "0")
                self._db.execute(
                    "DELETE FROM executed WHERE created < ?", (time.time() - COMMAND_RETENTION_S,)
                )
            self.epoch = str(self._meta("epoch"))
            self.boot = int(self._meta("boot") or 0)
            self.refused = int(self._meta("refused") or 0)
            row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
            self._next_seq = (int(row[0]) if row else 0) + 1
            self._depth = int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
        except sqlite3.Error as err:
            self.close()
            raise OutboxError(f"{path}: cannot open the outbox: {err}") from err

    @classmethod
    def open(cls, data_dir: Path, agent_id: str, max_entries: int) -> Outbox:
        data_dir.mkdir(parents=True, exist_ok=True)
        return cls(data_dir / DB_NAME, agent_id, max_entries)

    def close(self) -> None:
        db = getattr(self, "_db", None)
        if db is not None:
            with self._lock:
                db.close()

    # -- helpers (call with the lock held) ----------------------------------------------------------------

    def _tx(self) -> _Transaction:
        return _Transaction(self)

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def _insert(self, kind: Channel, bodies: Sequence[OutboxBody], now: float) -> list[Envelope[OutboxBody]]:
        """Insert entries with the next seqs (lock and transaction held); one ``executemany`` for all."""
        envs = [
            envelope.make(kind, self.agent_id, self.boot, self._next_seq + i, b) for i, b in enumerate(bodies)
        ]
        topic = self._topics[kind]
        self._db.executemany(
            "INSERT INTO outbox (seq, msg_id, topic, payload, created) VALUES (?, ?, ?, ?, ?)",
            [(e.seq, str(e.id), topic, envelope.encode(e), now) for e in envs],
        )
        self._next_seq += len(envs)
        self._depth += len(envs)
        return envs

    def _refuse(self, count: int) -> None:
        self.refused += count
        self._set_meta("refused", str(self.refused))
        if not self._full_logged:
            self._full_logged = True
            log.warning("outbox full (%d entries): refusing new entries until acknowledged", self.max_entries)

    def refuse(self, count: int = 1) -> None:
        """Count (durably) and raise :class:`OutboxFull` for entries refused before reaching the outbox."""
        with self._lock, self._tx():
            self._refuse(count)
        raise OutboxFull(f"outbox full ({self.max_entries} entries); refused count {self.refused}")

    # -- boot counter -------------------------------------------------------------------------------------

    def next_boot(self) -> int:
        """Increment and persist the boot counter (before every connect attempt); return the new boot."""
        with self._lock, self._tx():
            self.boot += 1
            self._set_meta("boot", str(self.boot))
        return self.boot

    # -- entries ------------------------------------------------------------------------------------------

    def append(self, kind: Channel, body: OutboxBody) -> Envelope[OutboxBody]:
        """Store one event or result; raise :class:`OutboxFull` (counted) if there is no room."""
        env = self.append_many([(kind, body)])[0]
        if env is None:
            raise OutboxFull(f"outbox full ({self.max_entries} entries); refused count {self.refused}")
        return env

    def append_many(self, items: Sequence[tuple[Channel, OutboxBody]]) -> list[Envelope[OutboxBody] | None]:
        """Store several entries in one transaction; refused ones (no room) come back as ``None``."""
        now = time.time()
        with self._lock, self._tx():
            room = max(0, self.max_entries - self._depth)
            accepted = items[:room]
            envs: list[Envelope[OutboxBody] | None] = []
            # Entries are inserted in the order given; a run of one kind goes in one executemany.
            start = 0
            while start < len(accepted):
                kind = accepted[start][0]
                end = start
                while end < len(accepted) and accepted[end][0] == kind:
                    end += 1
                envs.extend(self._insert(kind, [b for _, b in accepted[start:end]], now))
                start = end
            refused = len(items) - len(accepted)
            if refused:
                self._refuse(refused)
        return envs + [None] * refused

    def ack(self, ids: Iterable[uuid.UUID | str]) -> int:
        """Delete the entries with these message ids, in one transaction; return how many were held."""
        keys = [(str(i),) for i in ids]
        if not keys:
            return 0
        with self._lock, self._tx():
            before = self._db.total_changes
            self._db.executemany("DELETE FROM outbox WHERE msg_id = ?", keys)
            deleted = self._db.total_changes - before
            self._depth -= deleted
        if deleted and self._depth < self.max_entries:
            self._full_logged = False
        return deleted

    def pending_from(self, seq: int, limit: int) -> list[Entry]:
        """Up to ``limit`` held entries with ``seq`` or above, in order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, msg_id, topic, payload FROM outbox WHERE seq >= ? ORDER BY seq LIMIT ?",
                (seq, limit),
            ).fetchall()
        return [Entry(int(r[0]), str(r[1]), str(r[2]), bytes(r[3])) for r in rows]

    def holds(self, msg_id: uuid.UUID | str) -> bool:
        with self._lock:
            return (
                self._db.execute("SELECT 1 FROM outbox WHERE msg_id = ?", (str(msg_id),)).fetchone()
                is not None
            )

    @property
    def depth(self) -> int:
        return self._depth

    def low_seq(self) -> int:
        """The lowest unacknowledged seq, or the next seq when the outbox is empty."""
        with self._lock:
            row = self._db.execute("SELECT MIN(seq) FROM outbox").fetchone()
            return int(row[0]) if row[0] is not None else self._next_seq

    def status(self) -> OutboxStatus:
        low = self.low_seq()
        return OutboxStatus(
            epoch=self.epoch, low_seq=low, next_seq=self._next_seq, depth=self._depth, refused=self.refused
        )

    # -- executed commands --------------------------------------------------------------------------------

    def command(self, cmd_id: uuid.UUID) -> CommandRecord | None:
        with self._lock:
            row = self._db.execute(
                "SELECT status, result_id, result FROM executed WHERE cmd_id = ?", (str(cmd_id),)
            ).fetchone()
        if row is None:
            return None
        result = ResultBody.model_validate(json.loads(row[2])) if row[2] else None
        return CommandRecord(str(row[0]), row[1], result)

    def command_started(self, cmd_id: uuid.UUID) -> None:
        """Remember (durably) that ``cmd_id`` is being run, before running it."""
        with self._lock, self._tx():
            self._db.execute(
                "INSERT OR IGNORE INTO executed (cmd_id, status, created) VALUES (?, ?, ?)",
                (str(cmd_id), RUNNING, time.time()),
            )

    def append_result(self, body: ResultBody) -> Envelope[OutboxBody]:
        """Store a command result in the outbox and as the command's outcome, in one transaction.

        If the outbox is full the outcome is still remembered (so the command is not run again) and
        :class:`OutboxFull` is raised.
        """
        now = time.time()
        with self._lock, self._tx():
            env = None if self._depth >= self.max_entries else self._insert(Channel.RESULT, [body], now)[0]
            if env is None:
                self._refuse(1)
            self._db.execute(
                "INSERT INTO executed (cmd_id, status, result_id, result, created) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (cmd_id) DO UPDATE SET status = excluded.status, result_id = excluded.result_id, "
                "result = excluded.result",
                (str(body.cmd_id), body.status.value, env and str(env.id), body.model_dump_json(), now),
            )
        if env is None:
            raise OutboxFull(f"outbox full ({self.max_entries} entries): result of {body.cmd_id} refused")
        return env


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT``; on error ``ROLLBACK``, restore the in-memory counters, and
    translate sqlite3 errors into :class:`OutboxError`."""

    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox
        self._db = outbox._db
        self._saved = (outbox._next_seq, outbox._depth, outbox.refused, outbox.boot)

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc_type is None:
            try:
                self._db.execute("COMMIT")
                return
            except sqlite3.Error as err:
                exc = err
        self._db.execute("ROLLBACK")
        ob = self._outbox
        ob._next_seq, ob._depth, ob.refused, ob.boot = self._saved
        if isinstance(exc, sqlite3.Error):
            raise OutboxError(f"outbox write failed: {exc}") from exc
