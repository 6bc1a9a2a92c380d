from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_agent.outbox import Outbox
from edge_agent.sender import OutboxSender
from protocols import envelope
from protocols.messages import EventBody
from protocols.topics import Channel


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    ob = Outbox.open(tmp_path, "agent-1", 1000)
    for n in range(10):
        ob.append(Channel.EVENT, EventBody(device="sim-1", type="t", data={"n": n}))
    yield ob
    ob.close()


class Wire:
    def __init__(self) -> None:
        self.sent: list[int] = []
        self.ids: dict[int, str] = {}
        self.up = True

    def publish(self, topic: str, payload: bytes) -> bool:
        _, env = envelope.decode(topic, payload)
        self.sent.append(env.seq)
        self.ids[env.seq] = str(env.id)
        return self.up


def envelope_id(wire: Wire, seq: int) -> uuid.UUID:
    return uuid.UUID(wire.ids[seq])


def test_window_limits_unacknowledged_entries(outbox: Outbox) -> None:
    wire = Wire()

    async def scenario() -> None:
        sender = OutboxSender(outbox, wire.publish, window=3, ack_timeout_s=60)
        sender.fill()
        assert wire.sent == []  # no session yet
        sender.start_session()
        assert wire.sent == [1, 2, 3]
        sender.acked([envelope_id(wire, 1), envelope_id(wire, 2)])
        assert wire.sent == [1, 2, 3, 4, 5]
        assert sender.inflight == 3
        sender.flush_acks()
        assert outbox.status().low_seq == 3

    asyncio.run(scenario())


def test_acks_are_deleted_in_one_batch_soon_after(outbox: Outbox) -> None:
    wire = Wire()

    async def scenario() -> None:
        sender = OutboxSender(outbox, wire.publish, window=10, ack_timeout_s=60)
        sender.start_session()
        for seq in range(1, 6):
            sender.acked([envelope_id(wire, seq)])
        assert outbox.depth == 10  # not yet: batched
        await asyncio.sleep(0.1)
        assert outbox.depth == 5

    asyncio.run(scenario())


def test_timeout_goes_back_to_lowest_unacknowledged(outbox: Outbox) -> None:
    wire = Wire()

    async def scenario() -> None:
        sender = OutboxSender(outbox, wire.publish, window=4, ack_timeout_s=0.05)
        sender.start_session()
        sender.acked([envelope_id(wire, 1)])  # 2 is lost; 3, 4, 5 were sent but are out of order for the peer
        assert wire.sent == [1, 2, 3, 4, 5]
        sender.check_timeout()
        assert wire.sent == [1, 2, 3, 4, 5]  # not yet
        await asyncio.sleep(0.06)
        sender.check_timeout()
        assert wire.sent[5:] == [2, 3, 4, 5]
        assert sender.resends == 1

    asyncio.run(scenario())


def test_new_session_and_rebirth_resend_from_lowest(outbox: Outbox) -> None:
    wire = Wire()

    async def scenario() -> None:
        sender = OutboxSender(outbox, wire.publish, window=2, ack_timeout_s=60)
        sender.start_session()
        sender.acked([envelope_id(wire, 1)])
        sender.stop_session()
        sender.fill()
        assert wire.sent == [1, 2, 3]
        sender.start_session()
        assert wire.sent[3:] == [2, 3]
        sender.go_back("rebirth")
        assert wire.sent[5:] == [2, 3]

    asyncio.run(scenario())
