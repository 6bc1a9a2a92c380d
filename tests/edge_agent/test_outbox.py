from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_agent.errors import OutboxFull
from edge_agent.outbox import RUNNING, Outbox
from protocols import envelope, topics
from protocols.messages import EventBody, ResultBody, ResultStatus
from protocols.topics import Channel


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    ob = Outbox.open(tmp_path, "agent-1", max_entries=5)
    yield ob
    ob.close()


def event(n: int = 0) -> EventBody:
    return EventBody(device="sim-1", type="test", data={"n": n})


def test_append_assigns_seq_and_stores_the_exact_envelope(outbox: Outbox) -> None:
    a = outbox.append(Channel.EVENT, event(1))
    b = outbox.append(Channel.EVENT, event(2))
    assert (a.seq, b.seq) == (1, 2)
    entries = outbox.pending_from(0, 10)
    assert [e.seq for e in entries] == [1, 2]
    assert entries[0].topic == topics.event("agent-1")
    assert entries[0].payload == envelope.encode(a)
    _, decoded = envelope.decode(entries[1].topic, entries[1].payload)
    assert decoded.id == b.id
    assert decoded.seq == 2


def test_seq_keeps_increasing_across_acks_and_reopen(tmp_path: Path) -> None:
    ob = Outbox.open(tmp_path, "agent-1", 100)
    envs = [ob.append(Channel.EVENT, event(n)) for n in range(3)]
    assert ob.ack([e.id for e in envs]) == 3
    epoch = ob.epoch
    ob.close()
    ob = Outbox.open(tmp_path, "agent-1", 100)
    try:
        assert ob.epoch == epoch
        assert ob.append(Channel.EVENT, event()).seq == 4
        assert ob.status().low_seq == 4
    finally:
        ob.close()


def test_entries_leave_only_when_acknowledged(outbox: Outbox) -> None:
    envs = [outbox.append(Channel.EVENT, event(n)) for n in range(4)]
    assert outbox.ack([envs[1].id, uuid.uuid4()]) == 1
    assert [e.seq for e in outbox.pending_from(0, 10)] == [1, 3, 4]
    assert [e.seq for e in outbox.pending_from(3, 10)] == [3, 4]
    status = outbox.status()
    assert (status.low_seq, status.next_seq, status.depth) == (1, 5, 3)


def test_full_outbox_refuses_counts_and_persists(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    ob = Outbox.open(tmp_path, "agent-1", max_entries=3)
    results = ob.append_many([(Channel.EVENT, event(n)) for n in range(5)])
    assert [r is not None for r in results] == [True, True, True, False, False]
    with pytest.raises(OutboxFull):
        ob.append(Channel.EVENT, event())
    assert ob.status().refused == 3
    assert ob.status().depth == 3
    assert sum("outbox full" in r.message for r in caplog.records) == 1  # logged once per episode
    ob.close()
    ob = Outbox.open(tmp_path, "agent-1", max_entries=3)
    try:
        assert ob.status().refused == 3
        assert [e.seq for e in ob.pending_from(0, 10)] == [1, 2, 3]  # nothing accepted was dropped
    finally:
        ob.close()


def test_boot_counter_is_persisted(tmp_path: Path) -> None:
    ob = Outbox.open(tmp_path, "agent-1", 10)
    assert (ob.next_boot(), ob.next_boot()) == (1, 2)
    ob.close()
    ob = Outbox.open(tmp_path, "agent-1", 10)
    try:
        assert ob.boot == 2
        assert ob.next_boot() == 3
        assert ob.append(Channel.EVENT, event()).boot == 3
    finally:
        ob.close()


def test_new_database_has_a_new_epoch(tmp_path: Path) -> None:
    a = Outbox.open(tmp_path / "a", "agent-1", 10)
    b = Outbox.open(tmp_path / "b", "agent-1", 10)
    try:
        assert a.epoch != b.epoch
        assert a.status().low_seq == a.status().next_seq == 1
    finally:
        a.close()
        b.close()


def test_command_records(outbox: Outbox) -> None:
    cmd_id = uuid.uuid4()
    assert outbox.command(cmd_id) is None
    outbox.command_started(cmd_id)
    record = outbox.command(cmd_id)
    assert record is not None
    assert record.status == RUNNING
    body = ResultBody(cmd_id=cmd_id, device="sim-1", action="echo", status=ResultStatus.DONE, result={"a": 1})
    env = outbox.append_result(body)
    record = outbox.command(cmd_id)
    assert record is not None
    assert (record.status, record.result_id, record.result) == ("done", str(env.id), body)
    assert outbox.holds(env.id)
    assert json.loads(outbox.pending_from(0, 1)[0].payload)["kind"] == "result"


def test_result_refused_when_full_is_still_remembered(tmp_path: Path) -> None:
    ob = Outbox.open(tmp_path, "agent-1", max_entries=1)
    try:
        ob.append(Channel.EVENT, event())
        cmd_id = uuid.uuid4()
        body = ResultBody(cmd_id=cmd_id, device="sim-1", action="echo", status=ResultStatus.DONE)
        with pytest.raises(OutboxFull):
            ob.append_result(body)
        record = ob.command(cmd_id)
        assert record is not None
        assert (record.status, record.result_id) == ("done", None)
        assert ob.status().refused == 1
    finally:
        ob.close()


def test_concurrent_appends_get_distinct_consecutive_seqs(tmp_path: Path) -> None:
    ob = Outbox.open(tmp_path, "agent-1", 10_000)

    def writer() -> None:
        for n in range(100):
            ob.append(Channel.EVENT, event(n))

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert [e.seq for e in ob.pending_from(0, 1000)] == list(range(1, 401))
    finally:
        ob.close()
