import threading
import time

from coordinator.ingest.inbox import Inbox


def test_batches_keep_arrival_order_and_respect_the_batch_size() -> None:
    inbox: Inbox[int] = Inbox(maxsize=100, batch_size=4)
    for i in range(10):
        assert inbox.put(i, timeout=0)
    batches = [inbox.get_batch(0, 0) for _ in range(4)]
    assert batches == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9], []]


def test_full_inbox_pushes_back_then_accepts_once_drained() -> None:
    inbox: Inbox[int] = Inbox(maxsize=2, batch_size=10)
    assert inbox.put(1, timeout=0)
    assert inbox.put(2, timeout=0)
    assert not inbox.put(3, timeout=0.05)
    accepted = threading.Event()

    def put_then_flag() -> None:
        if inbox.put(3, timeout=5):
            accepted.set()

    t = threading.Thread(target=put_then_flag)
    t.start()
    assert inbox.get_batch(0, 0) == [1, 2]
    assert accepted.wait(5)
    t.join()
    assert inbox.get_batch(0, 0) == [3]


def test_writer_wakes_for_the_first_item_and_lingers_for_more() -> None:
    inbox: Inbox[int] = Inbox(maxsize=100, batch_size=3)
    got: list[list[int]] = []
    t = threading.Thread(target=lambda: got.append(inbox.get_batch(5, 5)))
    t.start()
    inbox.put(1, timeout=0)
    inbox.put(2, timeout=0)
    inbox.put(3, timeout=0)  # a full batch ends the linger at once
    t.join(5)
    assert got == [[1, 2, 3]]
    started = time.monotonic()
    assert inbox.get_batch(0.05, 0) == []
    assert time.monotonic() - started >= 0.04
