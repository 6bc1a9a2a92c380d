import json
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols import envelope, topics
from protocols.errors import DECODE_REASONS, DecodeError
from protocols.messages import (
    BirthBody,
    DeviceInfo,
    DeviceStatus,
    DevStateBody,
    EventBody,
    OutboxStatus,
    StateBody,
)
from protocols.topics import Channel


def _event(agent: str = "a1", seq: int = 1) -> bytes:
    body = EventBody(device="d1", type="capture", data={"pages": 2, "name": "身份证"})
    return envelope.encode(envelope.make(Channel.EVENT, agent, 3, seq, body))


def test_round_trip_keeps_every_field() -> None:
    body = BirthBody(
        version="0.1.0",
        devices=[DeviceInfo(id="d1", kind="sim", commands=["emit"])],
        outbox=OutboxStatus(epoch="e", low_seq=1, next_seq=1, depth=0, refused=0),
        keepalive_s=30,
    )
    env = envelope.make(Channel.BIRTH, "a1", 5, 1, body)
    parsed, decoded = envelope.decode(topics.birth("a1"), envelope.encode(env))
    assert parsed.agent_id == "a1"
    assert decoded == env
    assert decoded.id.version == 7


def test_make_refuses_a_body_on_the_wrong_channel() -> None:
    with pytest.raises(TypeError, match="does not belong"):
        envelope.make(Channel.EVENT, "a1", 1, 1, StateBody(online=True, boot=1, version="x", ts=1))


def _reason(topic: str, payload: bytes) -> str:
    with pytest.raises(DecodeError) as info:
        envelope.decode(topic, payload)
    assert info.value.reason in DECODE_REASONS
    return info.value.reason


def test_each_rejection_names_its_reason() -> None:
    good = json.loads(_event())
    t = topics.event("a1")
    assert _reason("hallmesh/v1/a1/up/bogus", _event()) == "unknown_topic"
    assert _reason(topics.tile("a1", "c1"), _event()) == "unknown_topic"
    assert _reason(t, b"{" + b" " * envelope.MAX_PAYLOAD_BYTES + b"}") == "too_large"
    assert _reason(t, b"\xff\xfe") == "not_json"
    assert _reason(t, b"[1, 2]") == "bad_envelope"
    assert _reason(t, json.dumps({**good, "v": 2}).encode()) == "unsupported_version"
    assert _reason(t, json.dumps({**good, "v": "x"}).encode()) == "bad_envelope"
    assert _reason(t, json.dumps({**good, "kind": "state"}).encode()) == "kind_mismatch"
    assert _reason(t, json.dumps({**good, "id": "nope"}).encode()) == "bad_envelope"
    assert _reason(t, json.dumps({**good, "body": {"device": "d1"}}).encode()) == "bad_body"
    assert _reason(t, json.dumps({k: v for k, v in good.items() if k != "body"}).encode()) == "bad_envelope"
    assert _reason(t, json.dumps({**good, "body": [1]}).encode()) == "bad_envelope"
    assert _reason(topics.event("a2"), _event("a1")) == "agent_mismatch"
    ds = envelope.make(
        Channel.DEV_STATE, "a1", 1, 1, DevStateBody(device="d1", status=DeviceStatus.UP, since=1.0)
    )
    assert _reason(topics.dev_state("a1", "d2"), envelope.encode(ds)) == "device_mismatch"


def test_error_detail_names_the_field() -> None:
    good = json.loads(_event())
    good["body"]["type"] = "has space"
    with pytest.raises(DecodeError, match=r"body\.type"):
        envelope.decode(topics.event("a1"), json.dumps(good).encode())


def test_non_finite_numbers_are_refused() -> None:
    good = json.loads(_event())
    raw = json.dumps({**good, "ts": float("nan")}).encode()
    assert _reason(topics.event("a1"), raw) == "bad_envelope"


def test_unknown_fields_are_ignored_within_a_version() -> None:
    good = json.loads(_event())
    good["future"] = 1
    good["body"]["future"] = {"x": 1}
    _, env = envelope.decode(topics.event("a1"), json.dumps(good).encode())
    assert isinstance(env.body, EventBody)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(payload=st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode()))
def test_decode_never_raises_anything_but_decode_error(payload: bytes) -> None:
    try:
        envelope.decode(topics.event("a1"), payload)
    except DecodeError as err:
        assert err.reason in DECODE_REASONS


@settings(max_examples=200, deadline=None)
@given(
    field=st.sampled_from(["v", "id", "agent", "boot", "seq", "ts", "kind", "body"]),
    value=json_values,
)
def test_mutated_envelopes_are_rejected_or_valid(field: str, value: object) -> None:
    good = json.loads(_event())
    good[field] = value
    try:
        _, env = envelope.decode(topics.event("a1"), json.dumps(good).encode())
    except DecodeError as err:
        assert err.reason in DECODE_REASONS
    else:
        assert env.agent == "a1"
        assert isinstance(env.id, uuid.UUID)


@settings(max_examples=300, deadline=None)
@given(
    field=st.sampled_from(["v", "id", "agent", "boot", "seq", "ts", "kind", "body"]),
    value=json_values,
)
def test_fast_path_accepts_only_what_the_careful_path_accepts(field: str, value: object) -> None:
    good = json.loads(_event())
    good[field] = value
    payload = json.dumps(good).encode()
    fast = envelope._fast_validate(Channel.EVENT, payload)
    try:
        careful = envelope._validate(Channel.EVENT, payload)
    except DecodeError:
        assert fast is None
    else:
        assert fast is None or fast == careful
