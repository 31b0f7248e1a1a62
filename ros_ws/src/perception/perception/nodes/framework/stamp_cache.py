"""Bounded cache keyed by header stamp, for nodes that pair two inputs of the same frame.

A node that needs an image *and* the detections computed from it (the glass classifier)
keeps the last few images by stamp and looks one up when the matching DetectionArray
arrives. Bounded in items and, with ``size_of``, in bytes (30 raw 8K frames would be 3 GB),
so a missing partner never grows memory; evictions are counted. The newest item is always
kept, even when it alone is larger than ``max_bytes``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")

StampKey = tuple[int, int]


def stamp_key(header: Any) -> StampKey:
    """(sec, nanosec) of a std_msgs/Header, usable as a dict key."""
    return int(header.stamp.sec), int(header.stamp.nanosec)


class StampCache(Generic[T]):
    """The newest items by stamp, at most ``capacity`` and ``max_bytes``; ``pop`` takes one by stamp."""

    def __init__(
        self,
        capacity: int = 30,
        max_bytes: int | None = None,
        size_of: Callable[[T], int] = lambda item: 0,
    ) -> None:
        if capacity < 1:
            raise ValueError(f"StampCache capacity must be >= 1, got {capacity}")
        self._capacity = capacity
        self._max_bytes = max_bytes
        self._size_of = size_of
        self._items: OrderedDict[StampKey, tuple[T, int]] = OrderedDict()
        self._lock = threading.Lock()
        self.bytes = 0
        self.evicted = 0

    def put(self, key: StampKey, item: T) -> None:
        size = self._size_of(item)
        with self._lock:
            if key in self._items:
                self.bytes -= self._items.pop(key)[1]
            self._items[key] = (item, size)
            self.bytes += size
            while len(self._items) > 1 and (
                len(self._items) > self._capacity
                or (self._max_bytes is not None and self.bytes > self._max_bytes)
            ):
                self.bytes -= self._items.popitem(last=False)[1][1]
                self.evicted += 1

    def pop(self, key: StampKey) -> T | None:
        """The item stored under ``key`` (removed), or None if it never came or was evicted."""
        with self._lock:
            entry = self._items.pop(key, None)
            if entry is None:
                return None
            self.bytes -= entry[1]
            return entry[0]

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
