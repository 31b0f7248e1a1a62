"""ClipBuffer: sampling by stamp, the ring, the stride, gap resets; downscale."""

from __future__ import annotations

import numpy as np
import pytest

from perception.core.video_models import downscale
from perception.nodes.framework.clip_buffer import Clip, ClipBuffer, ClipTiming

CAMERA_HZ = 30.0


def feed(buffer: ClipBuffer, stamps: list[float]) -> list[Clip]:
    """Offer one tiny frame per stamp (its source is the stamp's index); the clips handed out."""
    clips = []
    for index, stamp in enumerate(stamps):
        clip = buffer.add(stamp, index, lambda: np.zeros((2, 2, 3), np.uint8))
        if clip is not None:
            clips.append(clip)
    return clips


def camera(seconds: float, start: float = 100.0, jitter_s: float = 0.0) -> list[float]:
    """30 Hz stamps, every other one ``jitter_s`` early."""
    count = round(seconds * CAMERA_HZ)
    return [start + i / CAMERA_HZ - (jitter_s if i % 2 else 0.0) for i in range(count)]


def test_frames_are_sampled_by_stamp_and_clips_come_every_stride() -> None:
    timing = ClipTiming(sample_rate_hz=10.0, clip_duration_s=0.4, stride_s=0.2, max_gap_s=0.5)
    buffer = ClipBuffer(timing)
    clips = feed(buffer, camera(1.2, jitter_s=0.004))  # early stamps still count as a full period
    assert timing.frames_per_clip == 5
    assert all(len(clip.frames) == 5 for clip in clips)
    first = clips[0]
    assert [f.source for f in first.frames] == [0, 3, 6, 9, 12]  # every third camera frame
    assert first.last.stamp_s - first.first.stamp_s == pytest.approx(0.4, abs=0.005)
    ends = [clip.last.source for clip in clips]
    assert ends == [12, 18, 24, 30]  # one clip per 0.2 s of stamps once the ring is full
    assert buffer.counts.frames_buffered == 12 and buffer.counts.clips == 4


def test_frames_lost_before_the_buffer_do_not_shorten_the_clip() -> None:
    """With every fourth camera frame missing, kept frames are still a period apart in stamps."""
    timing = ClipTiming(sample_rate_hz=10.0, clip_duration_s=0.4, stride_s=0.2, max_gap_s=0.5)
    stamps = [s for i, s in enumerate(camera(1.0)) if i % 4 != 3]
    clips = feed(ClipBuffer(timing), stamps)
    assert clips
    for clip in clips:
        gaps = np.diff([f.stamp_s for f in clip.frames])
        assert len(clip.frames) == 5 and gaps.min() >= 0.095 and gaps.max() <= 0.14, gaps


@pytest.mark.parametrize("jump", [0.8, -0.3], ids=["gap", "backwards"])
def test_a_stamp_jump_resets_the_buffer_and_no_clip_spans_it(jump: float) -> None:
    timing = ClipTiming(sample_rate_hz=10.0, clip_duration_s=0.2, stride_s=0.1, max_gap_s=0.5)
    buffer = ClipBuffer(timing)
    before = camera(0.5)
    after = camera(0.5, start=before[-1] + jump)
    clips = feed(buffer, before + after)
    assert buffer.counts.buffer_resets == 1
    split = len(before)
    for clip in clips:
        sources = [f.source for f in clip.frames]
        assert all(s < split for s in sources) or all(s >= split for s in sources), sources
    resumed = [c for c in clips if c.first.source >= split]
    assert resumed and resumed[0].first.source == split  # the first frame after the gap starts anew


def test_pixels_are_made_only_for_kept_frames() -> None:
    buffer = ClipBuffer(ClipTiming(sample_rate_hz=10.0, clip_duration_s=1.0, stride_s=1.0, max_gap_s=1.0))
    made = []
    for index, stamp in enumerate(camera(0.5)):
        buffer.add(stamp, index, lambda i=index: made.append(i) or np.zeros((1, 1, 3), np.uint8))
    assert made == [0, 3, 6, 9, 12]
    assert len(buffer) == 5


def test_timing_refuses_unusable_values() -> None:
    with pytest.raises(ValueError, match="stride_s"):
        ClipTiming(sample_rate_hz=10.0, clip_duration_s=1.0, stride_s=0.0, max_gap_s=1.0)
    with pytest.raises(ValueError, match="sample_rate_hz"):
        ClipTiming(sample_rate_hz=0.0, clip_duration_s=1.0, stride_s=1.0, max_gap_s=1.0)


def test_a_gap_is_measured_between_received_frames_not_kept_ones() -> None:
    """Sampling at 2 Hz with max_gap_s 0.2: a 30 Hz stream has no gap and is never reset."""
    buffer = ClipBuffer(ClipTiming(sample_rate_hz=2.0, clip_duration_s=1.0, stride_s=1.0, max_gap_s=0.2))
    clips = feed(buffer, camera(3.0))
    assert buffer.counts.buffer_resets == 0 and len(clips) == 2


def test_downscale_keeps_the_aspect_and_never_upscales() -> None:
    frame = np.full((480, 640, 3), 7, np.uint8)
    small = downscale(frame, 160)
    assert small.shape == (160, 213, 3) and small.dtype == np.uint8 and int(small.mean()) == 7
    same = downscale(frame, 1000)
    assert same.shape == frame.shape and not np.shares_memory(same, frame)
