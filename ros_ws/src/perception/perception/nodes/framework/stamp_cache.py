"""Bounded cache keyed by header stamp, for nodes that pair two inputs of the same frame.

A node that needs an image *and* the detections computed from it (the glass classifier)
keeps the last few images by stamp and looks one up when the matching DetectionArray
arrives. Bounded, so a missing partner never grows memory; evictions are counted.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Generic, TypeVar

T = TypeVar("T")

StampKey = tuple[int, int]


def stamp_key(header: Any) -> StampKey:
    """(sec, nanosec) of a std_msgs/Header, usable as a dict key."""
    return int(header.stamp.sec), int(header.stamp.nanosec)


class StampCache(Generic[T]):
    """The newest ``capacity`` items by stamp; ``pop`` takes the one matching a stamp."""

    def __init__(self, capacity: int = 30) -> None:
        if capacity < 1:
            raise ValueError(f"StampCache capacity must be >= 1, got {capacity}")
        self._capacity = capacity
        self._items: OrderedDict[StampKey, T] = OrderedDict()
        self._lock = threading.Lock()
        self.evicted = 0

    def put(self, key: StampKey, item: T) -> None:
        with self._lock:
            self._items[key] = item
            self._items.move_to_end(key)
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)
                self.evicted += 1

    def pop(self, key: StampKey) -> T | None:
        """The item stored under ``key`` (removed), or None if it never came or was evicted."""
        with self._lock:
            return self._items.pop(key, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
