"""The MQTT session: Will on abrupt loss, durability across SIGKILL, reconnects, quiet retries."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_agent.config import parse_config
from edge_agent.runtime import Agent
from protocols.messages import StateBody
from protocols.topics import Channel
from provisioning.broker import Broker
from provisioning.pki import Pki
from tests.edge_agent.helpers import FakeCoordinator, agent_config, agent_config_data, write_toml
from tests.support import free_port, wait_until


class AgentProcess:
    """``python -m edge_agent --config …`` in a child process."""

    def __init__(self, config_path: Path) -> None:
        self.log = config_path.with_suffix(".log")
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "edge_agent", "--config", str(config_path)], stdout=out, stderr=out
            )

    def stop(self, sig: signal.Signals) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(10)


@pytest.fixture
def config_path(world_dir: Path, pki: Pki, broker: Broker) -> Path:
    return write_toml(world_dir / "agent.toml", agent_config_data(world_dir, pki, broker))


@pytest.fixture
def quiet_coordinator(broker: Broker, pki: Pki) -> Iterator[FakeCoordinator]:
    coord = FakeCoordinator(broker, pki, auto_ack=False)
    yield coord
    coord.close()


def states(coord: FakeCoordinator) -> list[StateBody]:
    return [m.body for m in coord.of(Channel.STATE) if isinstance(m.body, StateBody)]


def test_sigkill_fires_the_will_with_the_same_boot_and_loses_nothing(
    config_path: Path, quiet_coordinator: FakeCoordinator
) -> None:
    coord = quiet_coordinator
    child = AgentProcess(config_path)
    try:
        wait_until(lambda: any(s.online for s in states(coord)), timeout=15, what="agent online")
        coord.command("agent-1", "sim-1", "emit", {"count": 20})
        wait_until(lambda: len(coord.of(Channel.RESULT)) == 1, what="events and result")
        first = [m.env.id for m in coord.of(Channel.EVENT) + coord.of(Channel.RESULT)]
        child.stop(signal.SIGKILL)
        offline = wait_until(lambda: [s for s in states(coord) if not s.online], what="the Will")
        online = [s for s in states(coord) if s.online]
        assert offline[0].boot == online[0].boot == 1
    finally:
        if child.proc.poll() is None:
            child.stop(signal.SIGKILL)

    # Nothing was acknowledged: the restarted agent replays all 21 entries, same ids, in order.
    child = AgentProcess(config_path)
    try:
        wait_until(lambda: len(coord.of(Channel.RESULT)) == 2, timeout=15, what="replay after restart")
        replayed = [m for m in coord.messages if m.channel in (Channel.EVENT, Channel.RESULT)][len(first) :]
        assert [m.env.id for m in replayed] == first
        assert [s.boot for s in states(coord) if s.online] == [1, 2]
        assert child.stop(signal.SIGTERM) == 0
        farewell = wait_until(
            lambda: [s for s in states(coord) if not s.online and s.boot == 2], what="farewell"
        )
        assert len(farewell) == 1
    finally:
        if child.proc.poll() is None:
            child.stop(signal.SIGKILL)


def test_reconnects_after_a_broker_restart(world_dir: Path, pki: Pki, broker: Broker) -> None:
    agent = Agent(agent_config(world_dir, pki, broker))
    agent.start()
    try:
        assert agent.ready.wait(10)
        broker.restart(kill=True)
        coord = FakeCoordinator(broker, pki, client_id="coordinator-after-restart")
        try:
            wait_until(lambda: agent.ready.is_set() and agent.link.boot >= 2, timeout=15, what="reconnected")
            # The Will of boot 1 (or the retained online state of the new boot) and a birth of the new boot.
            births = wait_until(lambda: coord.of(Channel.BIRTH), what="birth after reconnect")
            assert births[-1].env.boot == agent.link.boot
            cmd = coord.command("agent-1", "sim-1", "echo", {"after": "restart"})
            assert coord.wait_result(cmd).result == {"after": "restart"}
        finally:
            coord.close()
    finally:
        agent.stop()


def test_a_link_lost_while_stopping_is_not_reconnected(world_dir: Path, pki: Pki, broker: Broker) -> None:
    agent = Agent(agent_config(world_dir, pki, broker))
    agent.start()
    try:
        assert agent.ready.wait(10)
        boot = agent.link.boot
        agent.link.wind_down()  # what Agent.stop() does first
        broker.restart(kill=True)
        link_thread = agent.link._thread
        link_thread.join(10)
        assert not link_thread.is_alive(), "the link thread kept reconnecting while winding down"
        assert agent.link.boot == boot
    finally:
        agent.stop()


def test_unreachable_broker_is_logged_once_and_retried(
    world_dir: Path, pki: Pki, broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="edge_agent.link")
    data = agent_config_data(world_dir, pki, broker)
    data["broker"]["port"] = free_port()  # nothing listens there
    data["broker"]["reconnect_max_s"] = 0.05
    agent = Agent(parse_config(data))
    agent.start()
    try:
        wait_until(lambda: agent.outbox.boot >= 5, what="several attempts")
    finally:
        agent.stop()
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert "cannot connect" in warnings[0].getMessage()
    assert agent.outbox.boot >= 5  # the boot counts every attempt
