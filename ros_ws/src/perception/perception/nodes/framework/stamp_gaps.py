"""Estimate frames lost before a node saw them, from gaps in the header stamps.

A best-effort camera stream that loses frames inside DDS (a lost UDP fragment loses the whole
image) looks healthy from inside the node: every frame that arrives is processed. A camera
stamps frames at a steady rate, so the stream's own period (the median of recent stamp
intervals) shows where frames are missing: an interval of k periods means k - 1 frames never
arrived. A gap longer than ``outage_s`` is counted as an outage (camera stopped, bag paused),
not as lost frames. No rclpy import: tested without ROS.
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass

_WINDOW = 31  # intervals the period is estimated from (an odd count has a true median)
_MIN_INTERVALS = 5  # intervals needed before gaps are judged
_JITTER = 0.5  # an interval counts k frames when it is within half a period of k periods


@dataclass(frozen=True)
class StampGapCounts:
    """What the estimator has seen since it started."""

    frames: int = 0
    lost: int = 0
    outages: int = 0
    out_of_order: int = 0
    period_s: float = 0.0


class StampGapEstimator:
    """Feed every received frame's stamp (seconds, in arrival order) to ``observe``."""

    def __init__(self, outage_s: float = 2.0) -> None:
        self._outage_s = outage_s
        self._intervals: deque[float] = deque(maxlen=_WINDOW)
        self._last: float | None = None
        self._counts = StampGapCounts()

    @property
    def counts(self) -> StampGapCounts:
        return self._counts

    def observe(self, stamp_s: float) -> int:
        """Record one frame; return how many frames are estimated missing just before it."""
        c = self._counts
        last, self._last = self._last, stamp_s if self._last is None else max(self._last, stamp_s)
        lost = outages = disorder = 0
        if last is not None:
            interval = stamp_s - last
            if interval <= 0.0:
                disorder = 1  # repeated or older stamp (a restarted bag, two publishers): not a gap
            elif interval > self._outage_s:
                outages = 1
            else:
                lost = self._missing(interval)
                self._intervals.append(interval / (lost + 1))  # the frame period this gap shows
        period = statistics.median(self._intervals) if self._intervals else 0.0
        self._counts = StampGapCounts(
            frames=c.frames + 1,
            lost=c.lost + lost,
            outages=c.outages + outages,
            out_of_order=c.out_of_order + disorder,
            period_s=period,
        )
        return lost

    def _missing(self, interval: float) -> int:
        if len(self._intervals) < _MIN_INTERVALS:
            return 0
        period = statistics.median(self._intervals)
        frames = int(interval / period + _JITTER)
        return max(frames - 1, 0)
