"""≥ 2,000 generated malformed, oversized, wrong-version and wrong-agent payloads on the ingest topics: the
coordinator does not crash, counts each by reason in /metrics, and valid traffic flows on."""

from __future__ import annotations

import json
import re
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocols import envelope, topics
from protocols.errors import DecodeError
from protocols.messages import EventBody
from protocols.topics import Channel
from tests.e2e.system import System
from tests.support import MqttProbe, wait_until

ATTACKER = "county-x.w9"
GOOD = "county-a.w1"
GOOD_EVENTS = 500
EXAMPLES = 2200


def _valid_event() -> dict[str, object]:
    env = envelope.make(
        Channel.EVENT, ATTACKER, 1, 1, EventBody(device="sim-1", type="capture", data={"k": 1})
    )
    parsed: dict[str, object] = json.loads(envelope.encode(env))
    return parsed


json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10)
json_values = st.recursive(
    json_scalars,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
    max_leaves=8,
)
ids = st.from_regex(r"\A[a-z0-9][a-z0-9_.-]{0,20}\Z")


@st.composite
def bad_payload(draw: st.DrawFn) -> tuple[str, str, bytes]:
    """(expected reason, topic, payload), published with the attacker's own certificate."""
    category = draw(
        st.sampled_from(
            [
                "not_json",
                "bad_envelope",
                "unsupported_version",
                "kind_mismatch",
                "bad_body",
                "agent_mismatch",
                "unknown_topic",
                "too_large",
            ]
        )
    )
    event_topic = topics.event(ATTACKER)
    good = _valid_event()
    if category == "not_json":
        return category, event_topic, b"\xff" + draw(st.binary(max_size=200))
    if category == "bad_envelope":
        if draw(st.booleans()):
            value = draw(st.lists(json_values, max_size=4) | json_scalars)
            return category, event_topic, json.dumps(value).encode()
        missing = draw(st.sampled_from(["id", "agent", "boot", "seq", "ts", "body"]))
        del good[missing]
        return category, event_topic, json.dumps(good).encode()
    if category == "unsupported_version":
        good["v"] = draw(st.integers().filter(lambda v: v != 1))
        return category, event_topic, json.dumps(good).encode()
    if category == "kind_mismatch":
        good["kind"] = draw(st.sampled_from([c.value for c in Channel if c is not Channel.EVENT]) | st.text())
        return category, event_topic, json.dumps(good).encode()
    if category == "bad_body":
        body = dict(good["body"])  # type: ignore[call-overload]
        field = draw(st.sampled_from(["device", "type", "data"]))
        body[field] = draw(
            st.sampled_from(["BAD ID", "", None, 3, [1], {"x": 1}]).filter(
                lambda v: not (field == "data" and isinstance(v, dict))
            )
        )
        good["body"] = body
        return category, event_topic, json.dumps(good).encode()
    if category == "agent_mismatch":
        good["agent"] = draw(ids.filter(lambda a: a != ATTACKER))
        return category, event_topic, json.dumps(good).encode()
    if category == "unknown_topic":
        channel = draw(st.from_regex(r"\A(bogus|dev/x|dev/x/y/z|tile|event/x)\Z"))
        return category, f"{topics.ROOT}/{ATTACKER}/up/{channel}", json.dumps(good).encode()
    pad = "x" * (envelope.MAX_PAYLOAD_BYTES + draw(st.integers(1, 1000)))
    good["body"] = {"device": "sim-1", "type": "big", "data": {"pad": pad}}
    return "too_large", event_topic, json.dumps(good).encode()


def _rejected(system: System) -> Counter[str]:
    counts: Counter[str] = Counter()
    for line in system.api("GET", "/metrics").text.splitlines():
        m = re.match(r'^hallmesh_ingest_rejected_total\{reason="([a-z_]+)"\} ([0-9.e+]+)$', line)
        if m:
            counts[m.group(1)] = int(float(m.group(2)))
    return counts


def test_malformed_payloads_are_counted_by_reason_and_valid_traffic_flows(system: System) -> None:
    system.start_coordinator()
    system.add_agent(GOOD)
    system.start_agent(GOOD)
    wait_until(lambda: system.is_online(GOOD), timeout=20, what="good agent online")
    system.pki.issue_agent(ATTACKER)
    files = system.pki.files(ATTACKER)
    attacker = MqttProbe(system.broker.port, system.pki.ca_cert_path, files.cert, files.key, ATTACKER).start()
    assert attacker.connected.wait(5)
    baseline = _rejected(system)

    system.command(GOOD, "sim-1", "emit", {"count": GOOD_EVENTS, "type": "valid"})
    sent: Counter[str] = Counter()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(item=bad_payload())
    def publish(item: tuple[str, str, bytes]) -> None:
        reason, topic, payload = item
        try:
            envelope.decode(topic, payload)
        except DecodeError as err:
            assert err.reason == reason, (err, payload[:200])
        else:
            raise AssertionError(f"generator made a valid payload: {payload[:200]!r}")
        attacker.client.publish(topic, payload, qos=1).wait_for_publish(10)
        sent[reason] += 1

    publish()
    assert sum(sent.values()) >= 2000
    assert set(sent) == {
        "not_json", "bad_envelope", "unsupported_version", "kind_mismatch", "bad_body", "agent_mismatch",
        "unknown_topic", "too_large",
    }  # fmt: skip

    def counted() -> bool:
        now = _rejected(system)
        return all(now[r] - baseline[r] == n for r, n in sent.items())

    wait_until(counted, timeout=60, what=f"rejections counted {dict(sent)} (now {dict(_rejected(system))})")
    wait_until(lambda: system.events_count() >= GOOD_EVENTS, timeout=60, what="valid events stored")
    assert system.events_count() == GOOD_EVENTS
    assert system.coordinator is not None
    assert system.coordinator.poll() is None
    assert system.is_online(GOOD)
    attacker.stop()
