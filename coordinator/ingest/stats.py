"""Ingest counters. Each counter has one writing thread (receiver: MQTT loop; the rest: writer thread)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from protocols.errors import DECODE_REASONS
from protocols.topics import UP_CHANNELS

INGEST_KINDS = tuple(sorted(c.value for c in UP_CHANNELS))


@dataclass
class IngestStats:
    messages: Counter[str] = field(default_factory=lambda: Counter(dict.fromkeys(INGEST_KINDS, 0)))
    rejected: Counter[str] = field(default_factory=lambda: Counter(dict.fromkeys(DECODE_REASONS, 0)))
    duplicates: int = 0
    out_of_order: int = 0
    stale_presence: int = 0
    rebirth_requests: int = 0
    batch_failures: int = 0
    events_inserted: int = 0
    results_inserted: int = 0
