"""LatestFrameWorker: keeps only the newest item, counts drops and failures, survives errors."""

from __future__ import annotations

import threading
import time

import pytest

from perception.nodes.framework.latest_frame import LatestFrameWorker


def _until(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not condition():
        time.sleep(0.005)
    return condition()


def test_slow_process_sees_first_and_newest_items_and_counts_the_rest_as_dropped() -> None:
    started = threading.Event()
    release = threading.Event()
    seen: list[int] = []

    def process(item: int) -> None:
        seen.append(item)
        started.set()
        release.wait(5.0)

    worker = LatestFrameWorker(process)
    worker.submit(0)
    assert started.wait(5.0)
    accepted = [worker.submit(i) for i in range(1, 11)]
    release.set()
    assert worker.wait_idle(5.0)
    worker.stop(5.0)

    assert seen == [0, 10], "the worker must skip stale items and process the newest"
    assert accepted == [True] + [False] * 9, "every submit after the first replaced a waiting item"
    counters = worker.counters
    assert (counters.received, counters.processed, counters.dropped, counters.failed) == (11, 2, 9, 0)
    assert counters.pending == 0


def test_exceptions_are_reported_counted_and_do_not_kill_the_thread() -> None:
    errors: list[BaseException] = []
    processed: list[int] = []

    def process(item: int) -> None:
        if item % 2:
            raise ValueError(f"odd item {item}")
        processed.append(item)

    worker = LatestFrameWorker(process, on_error=errors.append)
    for item in range(6):
        worker.submit(item)
        assert worker.wait_idle(5.0)
    assert worker.alive
    worker.stop(5.0)

    assert processed == [0, 2, 4]
    assert [str(e) for e in errors] == ["odd item 1", "odd item 3", "odd item 5"]
    assert (worker.counters.processed, worker.counters.failed, worker.counters.dropped) == (3, 3, 0)


def test_a_failing_error_callback_does_not_kill_the_thread() -> None:
    def broken_logger(error: BaseException) -> None:
        raise RuntimeError("logger down")

    def process(item: int) -> None:
        raise ValueError("bad item")

    worker = LatestFrameWorker(process, on_error=broken_logger)
    worker.submit(1)
    assert worker.wait_idle(5.0)
    worker.submit(2)
    assert worker.wait_idle(5.0)
    assert worker.alive
    assert worker.counters.failed == 2
    worker.stop(5.0)


def test_latency_covers_the_wait_and_the_processing() -> None:
    worker = LatestFrameWorker(lambda item: time.sleep(0.05))
    worker.submit(1)
    assert worker.wait_idle(5.0)
    worker.stop(5.0)
    assert 0.04 <= worker.counters.last_latency_s < 2.0


def test_stop_lets_the_running_item_end_discarded_drops_the_waiting_one_and_joins() -> None:
    started = threading.Event()
    finished: list[int] = []

    def process(item: int) -> None:
        started.set()
        time.sleep(0.1)
        finished.append(item)

    worker = LatestFrameWorker(process)
    worker.submit(1)
    assert started.wait(5.0)
    worker.submit(2)
    assert worker.stop(5.0)

    assert not worker.alive
    assert finished == [1]
    counters = worker.counters
    assert (counters.received, counters.processed, counters.dropped, counters.discarded) == (2, 0, 1, 1)
    assert counters.pending == 0
    with pytest.raises(RuntimeError, match="after stop"):
        worker.submit(3)


def test_stop_does_not_wait_longer_than_its_timeout_for_a_slow_item() -> None:
    release = threading.Event()
    started = threading.Event()

    def process(item: int) -> None:
        started.set()
        release.wait(10.0)

    worker = LatestFrameWorker(process)
    worker.submit(1)
    assert started.wait(5.0)
    begin = time.monotonic()
    assert not worker.stop(0.2), "stop must report that the item was still running"
    assert time.monotonic() - begin < 1.0
    release.set()
    assert worker.wait_idle(5.0)
    assert (worker.counters.processed, worker.counters.discarded) == (0, 1)


def test_a_larger_capacity_keeps_the_newest_items_in_order() -> None:
    release = threading.Event()
    seen: list[int] = []

    def process(item: int) -> None:
        seen.append(item)
        release.wait(5.0)

    worker = LatestFrameWorker(process, capacity=3)
    worker.submit(0)
    assert _until(lambda: seen == [0])
    accepted = [worker.submit(i) for i in range(1, 6)]
    release.set()
    assert worker.wait_idle(5.0)
    worker.stop(5.0)
    assert seen == [0, 3, 4, 5]
    assert accepted == [True, True, True, False, False]
    assert (worker.counters.processed, worker.counters.dropped) == (4, 2)
    with pytest.raises(ValueError, match="capacity"):
        LatestFrameWorker(process, capacity=0)


def test_counters_stay_consistent_under_concurrent_submitters() -> None:
    worker = LatestFrameWorker(lambda item: time.sleep(0.001))
    threads = [threading.Thread(target=lambda: [worker.submit(i) for i in range(200)]) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert worker.wait_idle(10.0)
    worker.stop(5.0)
    counters = worker.counters
    assert counters.received == 800
    assert counters.processed + counters.dropped == 800
    assert counters.processed >= 1
