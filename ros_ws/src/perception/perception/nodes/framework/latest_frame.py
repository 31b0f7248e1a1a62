"""One-slot latest-frame buffer drained by a worker thread.

Cameras publish faster than models run on a Jetson. Queueing frames only adds latency, so a
node keeps the newest frame: a waiting frame is replaced (and counted as dropped) when a newer
one arrives, and the model always works on the freshest image. No rclpy import: the worker is
tested and reused without ROS.
"""

from __future__ import annotations

import logging
import threading
import time
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
    last_latency_s: float = 0.0

    @property
    def pending(self) -> int:
        """Items accepted but neither finished nor dropped yet (0 or 1 waiting, 0 or 1 running)."""
        return self.received - self.processed - self.dropped - self.failed


def _log_exception(error: BaseException) -> None:
    _LOGGER.error("processing failed: %s", error, exc_info=error)


class LatestFrameWorker(Generic[T]):
    """Run ``process(item)`` on a thread for the newest submitted item, dropping stale ones.

    ``on_error`` is called (on the worker thread) with every exception ``process`` raises; the
    exception is counted as ``failed`` and the thread keeps going. ``last_latency_s`` is the
    time from ``submit`` to the end of ``process`` for the last successful item.
    """

    def __init__(
        self,
        process: Callable[[T], None],
        name: str = "latest-frame-worker",
        on_error: Callable[[BaseException], None] = _log_exception,
    ) -> None:
        self._process = process
        self._on_error = on_error
        self._condition = threading.Condition()
        self._slot: tuple[T, float] | None = None
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
        """Offer an item; returns False when it replaced a waiting one (that one is dropped)."""
        with self._condition:
            if self._stopping:
                raise RuntimeError("LatestFrameWorker.submit() after stop(); create a new worker")
            replaced = self._slot is not None
            self._slot = (item, time.monotonic())
            self._count(received=1, dropped=int(replaced))
            self._condition.notify_all()
            return not replaced

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is waiting or running; False if ``timeout`` passed first."""
        with self._condition:
            return self._condition.wait_for(lambda: self._slot is None and not self._busy, timeout)

    def stop(self, timeout: float | None = None) -> None:
        """Finish the running item, drop a waiting one, and join the thread."""
        with self._condition:
            self._stopping = True
            if self._slot is not None:
                self._slot = None
                self._count(dropped=1)
            self._condition.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _count(
        self,
        received: int = 0,
        processed: int = 0,
        dropped: int = 0,
        failed: int = 0,
        latency_s: float | None = None,
    ) -> None:
        """Update the counters; the caller holds the condition lock."""
        c = self._counters
        self._counters = WorkerCounters(
            received=c.received + received,
            processed=c.processed + processed,
            dropped=c.dropped + dropped,
            failed=c.failed + failed,
            last_latency_s=c.last_latency_s if latency_s is None else latency_s,
        )

    def _run(self) -> None:
        while True:
            with self._condition:
                self._condition.wait_for(lambda: self._slot is not None or self._stopping)
                if self._slot is None:
                    return
                item, submitted = self._slot
                self._slot = None
                self._busy = True
            try:
                self._process(item)
            except Exception as error:  # isolation is this class's job
                self._report(error)
                outcome = {"failed": 1}
            else:
                outcome = {"processed": 1, "latency_s": time.monotonic() - submitted}
            with self._condition:
                self._count(**outcome)
                self._busy = False
                self._condition.notify_all()

    def _report(self, error: Exception) -> None:
        try:
            self._on_error(error)
        except Exception:  # a broken logger must not kill the worker either
            _LOGGER.exception("on_error callback failed while reporting %r", error)
