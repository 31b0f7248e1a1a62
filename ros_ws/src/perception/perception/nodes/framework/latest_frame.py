"""Latest-frame buffer (one slot by default, a few for messages) drained by a worker thread.

Cameras publish faster than models run on a Jetson. Queueing frames only adds latency, so a
node keeps the newest frame: a waiting frame is replaced (and counted as dropped) when a newer
one arrives, and the model always works on the freshest image. Nodes whose inputs must not be
skipped (captions for the hazard rules) keep the newest ``capacity`` items instead; the oldest
waiting one is dropped (and counted) when a new one arrives at a full buffer. No rclpy import:
the worker is tested and reused without ROS.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerCounters:
    """A consistent snapshot of what the worker has seen since it started."""

    received: int = 0
    processed: int = 0
    dropped: int = 0
    failed: int = 0
    discarded: int = 0
    last_latency_s: float = 0.0

    @property
    def pending(self) -> int:
        """Items accepted but not finished, dropped or discarded yet (waiting or running)."""
        return self.received - self.processed - self.dropped - self.failed - self.discarded


def _log_exception(error: BaseException) -> None:
    _LOGGER.error("processing failed: %s", error, exc_info=error)


class LatestFrameWorker(Generic[T]):
    """Run ``process(item)`` on a thread for the newest submitted items, dropping stale ones.

    ``on_error`` is called (on the worker thread) with every exception ``process`` raises; the
    exception is counted as ``failed`` and the thread keeps going. ``last_latency_s`` is the
    time from ``submit`` to the end of ``process`` for the last successful item. An item still
    running when ``stop`` gives up waiting is counted as ``discarded`` when it ends.
    """

    def __init__(
        self,
        process: Callable[[T], None],
        name: str = "latest-frame-worker",
        on_error: Callable[[BaseException], None] = _log_exception,
        capacity: int = 1,
    ) -> None:
        if capacity < 1:
            raise ValueError(f"LatestFrameWorker capacity must be >= 1, got {capacity}")
        self._process = process
        self._on_error = on_error
        self._capacity = capacity
        self._condition = threading.Condition()
        self._slots: deque[tuple[T, float]] = deque(maxlen=capacity)
        self._busy = False
        self._stopping = False
        self._counters = WorkerCounters()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def counters(self) -> WorkerCounters:
        with self._condition:
            return self._counters

    def submit(self, item: T) -> bool:
        """Offer an item; returns False when the buffer was full (its oldest item is dropped)."""
        with self._condition:
            if self._stopping:
                raise RuntimeError("LatestFrameWorker.submit() after stop(); create a new worker")
            replaced = len(self._slots) == self._capacity
            self._slots.append((item, time.monotonic()))  # maxlen: the oldest falls out
            self._count(received=1, dropped=int(replaced))
            self._condition.notify_all()
            return not replaced

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is waiting or running; False if ``timeout`` passed first."""
        with self._condition:
            return self._condition.wait_for(lambda: not self._slots and not self._busy, timeout)

    def stop(self, timeout: float | None = None) -> bool:
        """Drop waiting items, let the running one finish for up to ``timeout`` s, join the thread.

        Returns False when the running item was still going at the timeout: the (daemon)
        thread then ends on its own after it and counts that item as ``discarded``.
        """
        with self._condition:
            self._stopping = True
            if self._slots:
                self._count(dropped=len(self._slots))
                self._slots.clear()
            self._condition.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _count(
        self,
        received: int = 0,
        processed: int = 0,
        dropped: int = 0,
        failed: int = 0,
        discarded: int = 0,
        latency_s: float | None = None,
    ) -> None:
        """Update the counters; the caller holds the condition lock."""
        c = self._counters
        self._counters = WorkerCounters(
            received=c.received + received,
            processed=c.processed + processed,
            dropped=c.dropped + dropped,
            failed=c.failed + failed,
            discarded=c.discarded + discarded,
            last_latency_s=c.last_latency_s if latency_s is None else latency_s,
        )

    def _run(self) -> None:
        while True:
            with self._condition:
                self._condition.wait_for(lambda: self._slots or self._stopping)
                if not self._slots:
                    return
                item, submitted = self._slots.popleft()
                self._busy = True
            try:
                self._process(item)
            except Exception as error:  # isolation is this class's job
                if not self._stopping:
                    self._report(error)
                outcome = {"discarded" if self._stopping else "failed": 1}
            else:
                outcome = (
                    {"discarded": 1}
                    if self._stopping
                    else {"processed": 1, "latency_s": time.monotonic() - submitted}
                )
            with self._condition:
                self._count(**outcome)
                self._busy = False
                self._condition.notify_all()

    def _report(self, error: Exception) -> None:
        try:
            self._on_error(error)
        except Exception:  # a broken logger must not kill the worker either
            _LOGGER.exception("on_error callback failed while reporting %r", error)
