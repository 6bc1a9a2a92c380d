"""The bounded hand-over between the MQTT thread and the writer thread.

``queue.Queue`` wakes the consumer on every put and takes a lock per get; at thousands of messages a second
that contention lands on the MQTT thread, which is the one that must keep up. Here a put wakes the writer
only when the inbox turns non-empty or a batch is full, and the writer takes a whole batch under one lock.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class Inbox(Generic[T]):
    def __init__(self, maxsize: int, batch_size: int) -> None:
        self._items: deque[T] = deque()
        self._maxsize = maxsize
        self._batch_size = batch_size
        self._lock = threading.Lock()
        self._not_empty = threading.Condition(self._lock)
        self._not_full = threading.Condition(self._lock)

    def qsize(self) -> int:
        return len(self._items)

    def put(self, item: T, timeout: float) -> bool:
        """Append ``item``; False if the inbox stayed full for ``timeout`` seconds (back-pressure)."""
        with self._lock:
            if len(self._items) >= self._maxsize and not self._not_full.wait_for(
                lambda: len(self._items) < self._maxsize, timeout
            ):
                return False
            self._items.append(item)
            n = len(self._items)
            if n == 1 or n == self._batch_size:
                self._not_empty.notify()
        return True

    def get_batch(self, wait_s: float, linger_s: float) -> list[T]:
        """Up to ``batch_size`` items: wait up to ``wait_s`` for the first, then up to ``linger_s`` for more."""
        with self._lock:
            if not self._items and (
                wait_s <= 0 or not self._not_empty.wait_for(lambda: bool(self._items), wait_s)
            ):
                return []
            deadline = time.monotonic() + linger_s
            while len(self._items) < self._batch_size:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._not_empty.wait(remaining)
            count = min(len(self._items), self._batch_size)
            batch = [self._items.popleft() for _ in range(count)]
            self._not_full.notify_all()
        return batch
