"""Down messages (cmd, ack, config) are sent by the coordinator: their envelope names it, not the agent."""

from __future__ import annotations

import time
import uuid

import pytest

from protocols import envelope, topics
from protocols.errors import DecodeError
from protocols.messages import AckBody, CommandBody
from protocols.topics import Channel


def _cmd(sender: str) -> bytes:
    body = CommandBody(cmd_id=uuid.uuid4(), device="sim-1", action="echo", expires_at=time.time() + 60)
    return envelope.encode(envelope.make(Channel.CMD, sender, 1, 1, body))


def test_down_message_from_coordinator_is_accepted() -> None:
    parsed, env = envelope.decode(topics.cmd("agent-1"), _cmd(topics.COORDINATOR_ID))
    assert parsed.channel is Channel.CMD
    assert parsed.agent_id == "agent-1"
    assert env.agent == topics.COORDINATOR_ID


@pytest.mark.parametrize("sender", ["agent-1", "agent-2"])
def test_down_message_not_from_coordinator_is_rejected(sender: str) -> None:
    with pytest.raises(DecodeError) as exc:
        envelope.decode(topics.cmd("agent-1"), _cmd(sender))
    assert exc.value.reason == "agent_mismatch"


def test_up_message_still_needs_the_topic_agent() -> None:
    payload = envelope.encode(envelope.make(Channel.ACK, topics.COORDINATOR_ID, 1, 1, AckBody(ids=[])))
    _, env = envelope.decode(topics.ack("agent-1"), payload)
    assert isinstance(env.body, AckBody)
