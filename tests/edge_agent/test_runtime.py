"""The agent in-process against the real Mosquitto (mTLS), with a stand-in coordinator."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_agent.config import AgentConfig
from edge_agent.runtime import Agent
from protocols import topics
from protocols.messages import (
    AGENT_TARGET,
    BirthBody,
    ConfigBody,
    DeviceStatus,
    DevStateBody,
    ResultStatus,
    StateBody,
    TelemetryBody,
)
from protocols.topics import Channel
from provisioning.broker import Broker
from provisioning.pki import Pki
from tests.edge_agent.helpers import FakeCoordinator, agent_config
from tests.support import wait_until


@pytest.fixture
def config(world_dir: Path, pki: Pki, broker: Broker) -> AgentConfig:
    return agent_config(world_dir, pki, broker)


@pytest.fixture
def agent(config: AgentConfig, coordinator: FakeCoordinator) -> Iterator[Agent]:
    a = Agent(config)
    a.start()
    assert a.ready.wait(10), "agent did not come online"
    yield a
    a.stop()


def test_comes_online_with_state_birth_and_device_states(agent: Agent, coordinator: FakeCoordinator) -> None:
    wait_until(lambda: coordinator.of(Channel.DEV_STATE), what="dev_state")
    first = coordinator.messages[:3]
    assert [m.channel for m in first] == [Channel.STATE, Channel.BIRTH, Channel.DEV_STATE]
    state, birth, dev = (m.body for m in first)
    assert isinstance(state, StateBody)
    assert state.online
    assert state.boot == 1
    assert [m.env.seq for m in first] == [1, 1, 2]
    assert all(m.env.boot == 1 for m in first)
    assert isinstance(birth, BirthBody)
    assert [d.id for d in birth.devices] == ["sim-1"]
    assert birth.devices[0].commands == ["echo", "emit", "fail", "recover", "capture"]
    assert birth.outbox.epoch == agent.outbox.epoch
    assert birth.keepalive_s == 5
    assert isinstance(dev, DevStateBody)
    assert first[2].topic == topics.dev_state("agent-1", "sim-1")

    telemetry = wait_until(
        lambda: [
            m
            for m in coordinator.of(Channel.TELEMETRY)
            if isinstance(m.body, TelemetryBody) and m.body.readings
        ],
        what="telemetry with readings",
    )[-1].body
    assert isinstance(telemetry, TelemetryBody)
    assert {r.point for r in telemetry.readings} == {"temperature_celsius", "uptime_seconds"}
    assert telemetry.inventory_seq == 2
    assert telemetry.outbox.epoch == agent.outbox.epoch


def test_state_and_device_states_are_retained(
    agent: Agent, coordinator: FakeCoordinator, broker: Broker, pki: Pki
) -> None:
    wait_until(lambda: coordinator.of(Channel.DEV_STATE), what="dev_state")
    late = FakeCoordinator(broker, pki, client_id="late-subscriber", auto_ack=False)
    try:
        wait_until(lambda: len(late.of(Channel.STATE)) and len(late.of(Channel.DEV_STATE)), what="retained")
        assert all(m.retained for m in late.messages if m.channel in (Channel.STATE, Channel.DEV_STATE))
        state = late.of(Channel.STATE)[0].body
        assert isinstance(state, StateBody)
        assert state.online
    finally:
        late.close()


def test_clean_stop_publishes_offline_with_the_same_boot(
    config: AgentConfig, coordinator: FakeCoordinator
) -> None:
    agent = Agent(config)
    agent.start()
    assert agent.ready.wait(10)
    agent.stop()
    states = wait_until(lambda: [s for s in coordinator.bodies(StateBody) if not s.online], what="offline")
    assert states[0].boot == 1


def test_ten_thousand_events_delivered_in_order_and_acknowledged(
    agent: Agent, coordinator: FakeCoordinator
) -> None:
    started = time.monotonic()
    cmd_id = coordinator.command("agent-1", "sim-1", "emit", {"count": 10_000, "type": "bulk"})
    result = coordinator.wait_result(cmd_id, timeout=40)
    assert result.status is ResultStatus.DONE
    assert result.result == {"emitted": 10_000}
    wait_until(lambda: agent.outbox.depth == 0, timeout=20, what="outbox drained")
    elapsed = time.monotonic() - started
    ns = [e.data["n"] for e in coordinator.events()]
    assert sorted(set(ns)) == list(range(10_000))  # type: ignore[type-var]
    first_seen: dict[int, int] = {}
    for m in coordinator.of(Channel.EVENT):
        first_seen.setdefault(m.env.seq, len(first_seen))
    assert list(first_seen) == list(range(1, 10_001))  # in outbox order (a go-back may repeat a tail)
    print(f"10,000 events through the outbox in {elapsed:.2f} s ({10_000 / elapsed:.0f}/s)")


def test_entries_leave_only_after_ack_and_are_replayed_after_restart(
    config: AgentConfig, broker: Broker, pki: Pki
) -> None:
    coord = FakeCoordinator(broker, pki, auto_ack=False)
    try:
        agent = Agent(config)
        agent.start()
        assert agent.ready.wait(10)
        coord.command("agent-1", "sim-1", "emit", {"count": 5})
        wait_until(lambda: len(coord.of(Channel.RESULT)) == 1, what="result")
        first = [m for m in coord.messages if m.channel in (Channel.EVENT, Channel.RESULT)]
        assert [m.env.seq for m in first] == [1, 2, 3, 4, 5, 6]
        agent.stop()

        agent = Agent(config)
        agent.start()
        try:
            assert agent.ready.wait(10)
            assert agent.outbox.depth == 6  # nothing was acknowledged
            wait_until(lambda: len(coord.of(Channel.RESULT)) == 2, what="replay")
            replay = [m for m in coord.messages if m.channel in (Channel.EVENT, Channel.RESULT)][6:]
            assert [m.env.id for m in replay] == [m.env.id for m in first]
            assert [m.env.boot for m in replay] == [1] * 6  # byte for byte the original envelopes
            coord.ack("agent-1", [m.env.id for m in first[:4]])
            wait_until(lambda: agent.outbox.depth == 2, what="acked entries deleted")
            assert agent.outbox.status().low_seq == 5
        finally:
            agent.stop()
    finally:
        coord.close()


def test_full_outbox_refuses_and_reports(world_dir: Path, pki: Pki, broker: Broker) -> None:
    coord = FakeCoordinator(broker, pki, auto_ack=False)
    agent = Agent(agent_config(world_dir, pki, broker, outbox={"max_entries": 3}))
    agent.start()
    try:
        assert agent.ready.wait(10)
        coord.command("agent-1", "sim-1", "emit", {"count": 5})
        # 3 events accepted, 2 refused, and the command's result refused too: the outbox is full.
        wait_until(lambda: agent.outbox.status().refused == 3, what="refusals counted")
        wait_until(lambda: len(coord.of(Channel.EVENT)) == 3, what="accepted events")
        telemetry = wait_until(
            lambda: [t for t in coord.bodies(TelemetryBody) if t.outbox.refused == 3],
            what="telemetry reporting the refusals",
        )
        assert telemetry[-1].outbox.depth == 3
        coord.ack("agent-1", [m.env.id for m in coord.of(Channel.EVENT)])
        wait_until(lambda: agent.outbox.depth == 0, what="drained")
    finally:
        agent.stop()
        coord.close()


def test_commands_through_the_broker(agent: Agent, coordinator: FakeCoordinator) -> None:
    echo = coordinator.command("agent-1", "sim-1", "echo", {"hello": "世界"})
    assert coordinator.wait_result(echo).result == {"hello": "世界"}
    expired = coordinator.command("agent-1", "sim-1", "echo", expires_in=-1)
    assert coordinator.wait_result(expired).status is ResultStatus.EXPIRED
    unknown = coordinator.command("agent-1", "printer-9", "print")
    assert coordinator.wait_result(unknown).status is ResultStatus.REJECTED
    bad = coordinator.command("agent-1", "sim-1", "emit", {"count": -1})
    assert coordinator.wait_result(bad).status is ResultStatus.REJECTED
    # The same cmd_id again: answered with the stored result, not run again.
    coordinator.command("agent-1", "sim-1", "echo", {"hello": "again"}, cmd_id=echo)
    wait_until(lambda: len(coordinator.results(echo)) == 2, what="repeat")
    results = coordinator.results(echo)
    assert results[1].result == {"hello": "世界"}


def test_device_failure_and_recovery_publish_dev_states(agent: Agent, coordinator: FakeCoordinator) -> None:
    def statuses() -> list[DeviceStatus]:
        return [d.status for d in coordinator.bodies(DevStateBody)]

    wait_until(lambda: statuses()[-1:] == [DeviceStatus.UP], what="up")
    coordinator.wait_result(coordinator.command("agent-1", "sim-1", "fail"))
    wait_until(lambda: statuses()[-1:] == [DeviceStatus.DOWN], what="down")
    assert coordinator.bodies(DevStateBody)[-1].last_error == "simulated failure"
    coordinator.wait_result(coordinator.command("agent-1", "sim-1", "recover"))
    wait_until(lambda: statuses()[-1:] == [DeviceStatus.UP], what="up again")
    seqs = [m.env.seq for m in coordinator.of(Channel.BIRTH) + coordinator.of(Channel.DEV_STATE)]
    assert sorted(seqs) == list(range(1, len(seqs) + 1))  # one inventory stream, no gaps


def test_rebirth_republishes_inventory(agent: Agent, coordinator: FakeCoordinator) -> None:
    wait_until(lambda: coordinator.of(Channel.DEV_STATE), what="first inventory")
    result = coordinator.wait_result(coordinator.command("agent-1", AGENT_TARGET, "rebirth"))
    assert result.status is ResultStatus.DONE
    wait_until(lambda: len(coordinator.of(Channel.BIRTH)) == 2, what="rebirth")
    births = coordinator.of(Channel.BIRTH)
    assert births[1].env.seq > births[0].env.seq
    assert births[1].env.boot == births[0].env.boot


def test_config_and_bad_payloads(agent: Agent, coordinator: FakeCoordinator) -> None:
    coordinator.config("agent-1", ConfigBody(telemetry_interval_s=0.05))
    wait_until(lambda: agent.telemetry_interval_s == 0.05, what="telemetry interval applied")
    coordinator.client.publish(topics.cmd("agent-1"), b"not json", qos=1).wait_for_publish(5)
    coordinator.client.publish(topics.ack("agent-1"), b'{"v": 1}', qos=1).wait_for_publish(5)
    wait_until(lambda: sum(agent.downlink.bad.values()) == 2, what="bad payloads counted")
    assert agent.downlink.bad == {"not_json": 1, "kind_mismatch": 1}
    assert agent.alive
    echo = coordinator.command("agent-1", "sim-1", "echo")
    assert coordinator.wait_result(echo).status is ResultStatus.DONE
