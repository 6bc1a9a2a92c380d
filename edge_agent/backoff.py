"""Jittered exponential backoff, shared by the MQTT link and the device supervisors."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Delays ``base, 2·base, 4·base, …`` capped at ``maximum``, each scaled by a random factor in ±``jitter``.

    ``reset()`` after a success starts again from ``base``.
    """

    base: float = 1.0
    maximum: float = 60.0
    jitter: float = 0.5
    attempts: int = field(default=0, init=False)

    def next_delay(self) -> float:
        nominal = min(self.maximum, self.base * 2.0 ** min(self.attempts, 32))
        self.attempts += 1
        return nominal * random.uniform(1 - self.jitter, 1 + self.jitter)

    def reset(self) -> None:
        self.attempts = 0
