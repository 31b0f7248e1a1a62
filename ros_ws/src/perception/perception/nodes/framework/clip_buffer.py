"""Clips of a camera stream for video models, sampled and scheduled by header stamp.

A video model sees a clip: frames at its own rate over a fixed duration. Cameras run faster
and deliver frames late, early or not at all, so arrival order and arrival time say little
about when a frame was taken; the header stamp does. ``ClipBuffer`` keeps a frame when at
least one sample period of stamp time passed since the last kept one, holds the newest clip's
worth in a bounded ring, and hands out that window every ``stride_s`` of stamp time. A gap in
the stream (a stamp jump over ``max_gap_s``, or stamps going backwards: a restarted bag or
camera) clears the ring, so no clip mixes frames from both sides of it.

Frames are downscaled (``perception.core.video_models.downscale``) when kept, so the ring
holds model-sized images rather than camera-sized ones. No rclpy import: tested and benchmarked without ROS.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

# Camera stamps jitter by a few ms: an interval this fraction short of the period still counts
# as a full one, so a 30 Hz camera sampled at 10 Hz keeps every third frame even when a stamp
# comes early (instead of skipping to the fourth and drifting to 7.5 Hz).
STAMP_JITTER = 0.05


class BufferedFrame(NamedTuple):
    """One kept frame: its stamp [s], downscaled pixels, and what the caller wants back (a header)."""

    stamp_s: float
    pixels: np.ndarray
    source: Any


@dataclass(frozen=True)
class Clip:
    """The newest window of kept frames, oldest first."""

    frames: tuple[BufferedFrame, ...]

    @property
    def first(self) -> BufferedFrame:
        return self.frames[0]

    @property
    def last(self) -> BufferedFrame:
        return self.frames[-1]

    @property
    def pixels(self) -> list[np.ndarray]:
        return [frame.pixels for frame in self.frames]


@dataclass(frozen=True)
class ClipTiming:
    """How a clip is cut from the stream, all in stamp time."""

    sample_rate_hz: float  # frames per second the model sees
    clip_duration_s: float  # stamp span from a clip's first to last frame
    stride_s: float  # stamp time between the ends of two clips
    max_gap_s: float  # a longer stamp jump between two received (not kept) frames resets the buffer

    def __post_init__(self) -> None:
        for name in ("sample_rate_hz", "clip_duration_s", "stride_s", "max_gap_s"):
            if not getattr(self, name) > 0.0:
                raise ValueError(f"clip timing: {name} must be > 0, got {getattr(self, name)}")

    @property
    def frames_per_clip(self) -> int:
        """Frames spanning ``clip_duration_s`` at ``sample_rate_hz``, both ends included."""
        return round(self.clip_duration_s * self.sample_rate_hz) + 1


@dataclass(frozen=True)
class ClipBufferCounts:
    """What the buffer did since it was made (reported on /diagnostics)."""

    frames_buffered: int = 0
    buffer_resets: int = 0
    clips: int = 0


class ClipBuffer:
    """Feed every decoded frame to ``add`` in arrival order; it returns a clip when one is due."""

    def __init__(self, timing: ClipTiming) -> None:
        self.timing = timing
        self._ring: deque[BufferedFrame] = deque(maxlen=timing.frames_per_clip)
        self._period_s = (1.0 - STAMP_JITTER) / timing.sample_rate_hz
        self._stride_s = (1.0 - STAMP_JITTER) * timing.stride_s
        self._last_seen: float | None = None
        self._last_clip_end: float | None = None
        self.counts = ClipBufferCounts()

    def __len__(self) -> int:
        return len(self._ring)

    def add(self, stamp_s: float, source: Any, pixels: Callable[[], np.ndarray]) -> Clip | None:
        """Offer a frame stamped ``stamp_s``; ``pixels()`` (the downscale) runs only if it is kept."""
        last_seen, self._last_seen = self._last_seen, stamp_s
        if last_seen is not None and not 0.0 <= stamp_s - last_seen <= self.timing.max_gap_s:
            self._reset()
        if self._ring and stamp_s - self._ring[-1].stamp_s < self._period_s:
            return None
        self._ring.append(BufferedFrame(stamp_s, pixels(), source))
        self._count(frames_buffered=1)
        if len(self._ring) < self.timing.frames_per_clip:
            return None
        if self._last_clip_end is not None and stamp_s - self._last_clip_end < self._stride_s:
            return None
        self._last_clip_end = stamp_s
        self._count(clips=1)
        return Clip(tuple(self._ring))

    def _reset(self) -> None:
        self._ring.clear()
        self._last_clip_end = None
        self._count(buffer_resets=1)

    def _count(self, frames_buffered: int = 0, buffer_resets: int = 0, clips: int = 0) -> None:
        c = self.counts  # replaced whole, so a reader on another thread sees a consistent snapshot
        self.counts = ClipBufferCounts(
            c.frames_buffered + frames_buffered, c.buffer_resets + buffer_resets, c.clips + clips
        )

