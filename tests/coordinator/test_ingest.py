"""Ingest against the real broker and both databases: births, presence, events exactly once, in order."""

from __future__ import annotations

from collections.abc import Callable

from coordinator.ingest.stats import IngestStats
from protocols import topics
from protocols.messages import DeviceInfo, Reading
from tests.coordinator.conftest import Harness
from tests.support import wait_until


def stats(h: Harness) -> IngestStats:
    assert h.coordinator.ingest is not None
    return h.coordinator.ingest.stats


def seqs_by_id(h: Harness, agent_id: str) -> list[int]:
    return [
        int(str(r[0])) for r in h.rows("SELECT seq FROM event WHERE agent_id = :a ORDER BY id", a=agent_id)
    ]


def agent_field(h: Harness, agent_id: str, column: str) -> object:
    return h.scalar(f"SELECT {column} FROM agent WHERE id = :a", a=agent_id)


def test_birth_registers_agent_and_devices(harness: Harness) -> None:
    a = harness.agent("a1")
    a.online()
    a.birth()
    a.dev_state("scanner1", "up")
    a.dev_state("printer1", "down", reason="media-jam")
    wait_until(lambda: agent_field(harness, "a1", "inventory_seq") == 3, what="inventory stream applied")
    agent = harness.get("/api/v1/agents/a1")
    assert isinstance(agent, dict)
    assert (agent["online"], agent["boot"], agent["device_count"]) == (True, 1, 2)
    assert agent["inventory"] == {"boot": 1, "seq": 3, "outbox_epoch": "epoch-1", "keepalive_s": 30}
    status = {d["device_id"]: (d["status"], d["reason"], d["kind"]) for d in agent["devices"]}
    assert status == {"printer1": ("down", "media-jam", "printer"), "scanner1": ("up", "", "scanner")}
    assert a.rebirth_commands() == []


def test_events_inserted_once_in_order_and_acked(harness: Harness) -> None:
    a = harness.agent("a1")
    a.online()
    a.birth()
    ids = [a.event(seq) for seq in range(1, 201)]
    a.wait_acked(ids)
    assert seqs_by_id(harness, "a1") == list(range(1, 201))
    assert agent_field(harness, "a1", "outbox_hwm") == 200
    # A replay (same bytes, seq <= hwm) is acknowledged again but not inserted.
    a.acked.clear()
    a.replay(7)
    a.wait_acked([ids[6]])
    assert harness.scalar("SELECT count(*) FROM event WHERE agent_id = 'a1'") == 200
    assert stats(harness).duplicates == 1


def test_out_of_order_dropped_unacked_then_accepted(harness: Harness) -> None:
    a = harness.agent("a1")
    a.online()
    a.birth()
    first = a.event(1)
    a.wait_acked([first])
    lost_ahead = [a.event(3), a.event(4)]  # seq 2 "lost in the broker"
    marker = a.event(2)
    a.wait_acked([marker])
    assert not set(lost_ahead) & set(a.acked)
    assert stats(harness).out_of_order == 2
    assert seqs_by_id(harness, "a1") == [1, 2]
    a.replay(3)  # go-back-N resend fills the gap
    a.replay(4)
    a.wait_acked(lost_ahead)
    assert seqs_by_id(harness, "a1") == [1, 2, 3, 4]


def test_unknown_agent_is_asked_for_rebirth(harness: Harness) -> None:
    a = harness.agent("a2")
    ev = a.event(1)
    wait_until(a.rebirth_commands, what="rebirth command")
    cmd = a.rebirth_commands()[0]
    assert cmd.device == "@agent"
    assert ev not in a.acked
    assert harness.scalar("SELECT count(*) FROM event") == 0
    # The agent answers with a birth and resends: now the event is accepted.
    a.online()
    a.birth()
    a.replay(1)
    a.wait_acked([ev])
    assert seqs_by_id(harness, "a2") == [1]


def test_stale_will_of_older_boot_is_ignored(harness: Harness) -> None:
    a = harness.agent("a1", boot=2)
    a.online()
    a.birth()
    a.offline(boot=1)  # the Will of the previous connection, delivered late
    a.event(1)
    wait_until(lambda: agent_field(harness, "a1", "outbox_hwm") == 1, what="event after stale will")
    # the writer adds a batch's counts after its commit: wait until the event's batch is counted too
    wait_until(lambda: stats(harness).events_inserted == 1, what="event batch counted")
    assert agent_field(harness, "a1", "online") in (True, 1)
    assert stats(harness).stale_presence == 1
    a.kill()  # a real Will of the current boot takes the agent offline
    wait_until(lambda: agent_field(harness, "a1", "online") in (False, 0), what="offline by will")


def test_inventory_gap_asks_for_rebirth_at_most_every_5_s(harness: Harness) -> None:
    a = harness.agent("a1")
    a.online()
    a.birth()  # inventory seq 1
    a.dev_state("scanner1", "up", seq=3)  # seq 2 lost
    wait_until(a.rebirth_commands, what="rebirth after dev_state gap")
    a.telemetry([], inventory_seq=9)  # another gap, within 5 s: no second command
    marker = a.event(1)
    a.wait_acked([marker])
    assert stats(harness).rebirth_requests == 1
    assert len(a.rebirth_commands()) == 1


def test_telemetry_ahead_of_inventory_asks_for_rebirth(harness: Harness) -> None:
    a = harness.agent("a1")
    a.online()
    a.birth()
    a.telemetry([Reading(device="printer1", point="toner", value=75, unit="percent")], inventory_seq=2)
    wait_until(a.rebirth_commands, what="rebirth after telemetry gap")
    live = harness.coordinator.live.get("a1")
    assert live is not None
    assert live.readings[("printer1", "toner")].value == 75


def test_new_outbox_epoch_resets_high_water_mark(harness: Harness) -> None:
    a = harness.agent("a1")
    a.online()
    a.birth()
    a.wait_acked([a.event(1), a.event(2), a.event(3)])
    a.epoch = "epoch-2"  # the agent's outbox database was recreated: seq starts at 1 again
    a.boot = 2
    a.online()
    a.birth()
    fresh = a.event(1)
    a.wait_acked([fresh])
    assert seqs_by_id(harness, "a1") == [1, 2, 3, 1]
    assert agent_field(harness, "a1", "outbox_epoch") == "epoch-2"


def test_birth_low_seq_advances_hwm_and_removes_devices(harness: Harness) -> None:
    a = harness.agent("a1")
    a.online()
    a.birth(low_seq=11)  # entries 1..10 were acknowledged before (e.g. by a previous database)
    a.wait_acked([a.event(11)])
    a.birth(devices=(DeviceInfo(id="cam1", kind="camera"),), low_seq=12)
    wait_until(lambda: harness.scalar("SELECT count(*) FROM device WHERE agent_id='a1'") == 1, what="devices")
    assert harness.scalar("SELECT device_id FROM device") == "cam1"


def test_bad_payloads_are_counted_and_valid_traffic_flows(harness: Harness) -> None:
    a = harness.agent("a1")
    a.online()
    a.birth()
    a.send_raw(topics.event("a1"), b"{not json")
    a.send_raw(topics.event("a1"), b'{"v": 9}')
    a.send_raw(topics.event("a1"), b'{"v": 1, "kind": "event"}')
    a.send_raw(topics.tile("a1", "cam1"), b"\xff\xd8jpeg")
    a.wait_acked([a.event(1)])
    rejected = stats(harness).rejected
    assert (rejected["not_json"], rejected["unsupported_version"], rejected["bad_envelope"]) == (1, 1, 1)
    assert stats(harness).messages["tile"] == 1


def test_restart_keeps_high_water_mark(harness: Harness, start_coordinator: Callable[..., Harness]) -> None:
    a = harness.agent("a1")
    a.online()
    a.birth()
    ids = [a.event(1), a.event(2)]
    a.wait_acked(ids)
    harness.stop()
    again = start_coordinator()
    b = again.agent("a1")
    b.outbox_sent = a.outbox_sent
    b.replay(2)  # resent after reconnect: a duplicate for the restarted coordinator
    b.wait_acked([ids[1]])
    assert seqs_by_id(again, "a1") == [1, 2]
    assert again.coordinator.boot == 2
