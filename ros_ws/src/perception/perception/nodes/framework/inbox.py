"""Hand messages to a node from elsewhere in its process, delivered on the node's own executor.

A message put from another thread (another node's worker, the shared camera subscription) is
kept in a bounded deque and a guard condition of the receiving node is triggered; the executor
then runs ``callback`` in that node's default callback group, exactly where a subscription's
callback would run. So a node's callbacks never run concurrently with each other, in one
process as in its own, and its code needs no extra locking. Like a KEEP_LAST subscription,
the oldest waiting message falls out when ``depth`` are waiting.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from rclpy.node import Node

T = TypeVar("T")


class Inbox(Generic[T]):
    """A node's in-process input; ``put`` from any thread, ``callback`` runs on the executor."""

    def __init__(self, node: Node, callback: Callable[[T], None], depth: int) -> None:
        self._node = node
        self._callback = callback
        self._items: deque[T] = deque(maxlen=max(1, depth))
        self._lock = threading.Lock()
        self._guard: Any = node.create_guard_condition(self._drain)

    def put(self, item: T) -> None:
        with self._lock:
            if self._guard is None:
                return
            self._items.append(item)
            self._guard.trigger()

    def close(self) -> None:
        """Stop delivering (idempotent); waiting messages are dropped."""
        with self._lock:
            guard, self._guard = self._guard, None
            self._items.clear()
        if guard is not None:
            self._node.destroy_guard_condition(guard)

    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._items:
                    return
                item = self._items.popleft()
            self._callback(item)
