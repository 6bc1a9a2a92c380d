"""The broker enforces DESIGN.md §4 with real Mosquitto: mTLS, identity as user name, per-agent ACL, CRL."""

from __future__ import annotations

from pathlib import Path

from protocols import topics
from provisioning.broker import Broker
from provisioning.pki import Pki
from tests.support import MqttProbe


def probe(broker: Broker, pki: Pki, name: str, client_id: str | None = None, protocol: int = 4) -> MqttProbe:
    files = pki.files(name)
    return MqttProbe(broker.port, pki.ca_cert_path, files.cert, files.key, client_id or name, protocol)


def test_agent_publishes_only_under_its_own_up_topics(broker: Broker, pki: Pki) -> None:
    pki.issue_agent("agent-a")
    pki.issue_agent("agent-b")
    coord = probe(broker, pki, "coordinator").start()
    assert coord.connected.wait(5)
    coord.subscribe("hallmesh/v1/#")
    a = probe(broker, pki, "agent-a").start()
    assert a.connected.wait(5)
    a.client.publish(topics.event("agent-b"), b"forged", qos=1).wait_for_publish(5)
    a.client.publish(topics.cmd("agent-b"), b"forged-cmd", qos=1).wait_for_publish(5)
    a.client.publish(topics.coordinator_state(), b"forged-state", qos=1).wait_for_publish(5)
    a.client.publish(topics.event("agent-a"), b"mine", qos=1).wait_for_publish(5)
    got = coord.drain(0.5)
    assert [(t, p) for t, p, _ in got] == [(topics.event("agent-a"), b"mine")]
    a.stop()
    coord.stop()


def test_agent_cannot_read_another_agents_commands(broker: Broker, pki: Pki) -> None:
    pki.issue_agent("agent-a")
    pki.issue_agent("agent-b")
    a = probe(broker, pki, "agent-a").start()
    b = probe(broker, pki, "agent-b").start()
    assert a.connected.wait(5)
    assert b.connected.wait(5)
    a.subscribe("hallmesh/v1/agent-b/down/#")
    a.subscribe("hallmesh/v1/+/up/#")
    b.subscribe(topics.agent_down_filter("agent-b"))
    coord = probe(broker, pki, "coordinator").start()
    assert coord.connected.wait(5)
    coord.client.publish(topics.cmd("agent-b"), b"for-b", qos=1).wait_for_publish(5)
    b.client.publish(topics.event("agent-b"), b"b-event", qos=1).wait_for_publish(5)
    assert b.messages.get(timeout=5)[:2] == (topics.cmd("agent-b"), b"for-b")
    assert a.drain(0.5) == []
    for c in (a, b, coord):
        c.stop()


def test_mqtt5_publisher_is_told_not_authorized(broker: Broker, pki: Pki) -> None:
    pki.issue_agent("agent-a")
    a = probe(broker, pki, "agent-a", protocol=5)
    reasons: dict[int, int] = {}
    a.client.on_publish = lambda _c, _u, mid, rc, _p: reasons.__setitem__(mid, rc.value)
    a.start()
    assert a.connected.wait(5)
    denied = a.client.publish(topics.event("agent-b"), b"x", qos=1)
    allowed = a.client.publish(topics.event("agent-a"), b"x", qos=1)
    denied.wait_for_publish(5)
    allowed.wait_for_publish(5)
    # 135 = Not authorized; 16 = accepted, no matching subscribers
    assert reasons == {denied.mid: 135, allowed.mid: 16}
    a.stop()


def test_certificate_from_another_ca_cannot_connect(broker: Broker, pki: Pki, world_dir: Path) -> None:
    rogue = Pki.create(world_dir / "rogue-pki")
    rogue.issue_agent("agent-a")
    files = rogue.files("agent-a")
    c = MqttProbe(broker.port, pki.ca_cert_path, files.cert, files.key, "agent-a").start()
    assert c.disconnected.wait(5)
    assert not c.connected.is_set()
    c.client.loop_stop()


def test_revoked_certificate_cannot_connect(broker: Broker, pki: Pki) -> None:
    pki.issue_agent("agent-r")
    first = probe(broker, pki, "agent-r").start()
    assert first.connected.wait(5)
    first.stop()
    pki.revoke("agent-r")
    broker.reload_crl()
    again = probe(broker, pki, "agent-r").start()
    assert again.disconnected.wait(5)
    assert not again.connected.is_set()
    again.client.loop_stop()
    # Others are unaffected.
    pki.issue_agent("agent-ok")
    ok = probe(broker, pki, "agent-ok").start()
    assert ok.connected.wait(5)
    ok.stop()
