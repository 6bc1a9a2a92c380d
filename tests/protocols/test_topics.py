import pytest

from protocols import topics
from protocols.errors import TopicError
from protocols.topics import Channel


def test_builders_and_parser_round_trip() -> None:
    cases = [
        (topics.state("a1"), Channel.STATE, None),
        (topics.birth("a1"), Channel.BIRTH, None),
        (topics.dev_state("a1", "scan-1"), Channel.DEV_STATE, "scan-1"),
        (topics.telemetry("a1"), Channel.TELEMETRY, None),
        (topics.event("a1"), Channel.EVENT, None),
        (topics.result("a1"), Channel.RESULT, None),
        (topics.tile("a1", "cam.2"), Channel.TILE, "cam.2"),
        (topics.cmd("a1"), Channel.CMD, None),
        (topics.ack("a1"), Channel.ACK, None),
        (topics.config("a1"), Channel.CONFIG, None),
    ]
    for topic, channel, device in cases:
        parsed = topics.parse(topic)
        assert parsed == topics.Topic(channel, "a1", device), topic
        assert topic.startswith("hallmesh/v1/a1/")


def test_coordinator_state_topic() -> None:
    assert topics.parse(topics.coordinator_state()).channel is Channel.COORDINATOR_STATE


@pytest.mark.parametrize(
    "bad",
    [
        "hallmesh/v1/a1/up/nope",
        "hallmesh/v2/a1/up/state",
        "hallmesh/v1/A1/up/state",
        "hallmesh/v1/a1/up/dev/x/telemetry",
        "hallmesh/v1/a1/down/state",
        "hallmesh/v1/coordinator/up/state",
        "hallmesh/v1/+/up/state",
        "other",
        "",
    ],
)
def test_parse_rejects_topics_outside_the_contract(bad: str) -> None:
    with pytest.raises(TopicError):
        topics.parse(bad)


@pytest.mark.parametrize("bad_id", ["", "A", "a/b", "a+b", "#", "-x", "x" * 64])
def test_ids_that_would_break_a_topic_level_are_refused(bad_id: str) -> None:
    with pytest.raises(TopicError, match="invalid"):
        topics.state(bad_id)


def test_filters() -> None:
    assert topics.all_up_filter() == "hallmesh/v1/+/up/#"
    assert topics.agent_down_filter("a1") == "hallmesh/v1/a1/down/#"
    assert topics.shared_up_filter("g").startswith("$share/g/")
