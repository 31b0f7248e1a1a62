"""StampGapEstimator: frames lost before the node, estimated from header stamp gaps."""

from __future__ import annotations

import numpy as np

from perception.nodes.framework.stamp_gaps import StampGapEstimator


def _feed(stamps) -> StampGapEstimator:
    estimator = StampGapEstimator(outage_s=2.0)
    for stamp in stamps:
        estimator.observe(float(stamp))
    return estimator


def test_a_complete_jittery_stream_loses_nothing() -> None:
    rng = np.random.default_rng(1)
    stamps = np.arange(300) / 30.0 + rng.normal(0.0, 0.003, 300)
    counts = _feed(np.sort(stamps)).counts
    assert counts.frames == 300 and counts.lost == 0
    assert abs(counts.period_s - 1 / 30) < 0.002


def test_lost_frames_are_counted_even_when_most_are_lost() -> None:
    rng = np.random.default_rng(2)
    sent = np.arange(600) / 30.0
    for keep_fraction in (0.9, 0.4):
        kept = np.sort(rng.choice(sent[10:], int(590 * keep_fraction), replace=False))
        counts = _feed(np.concatenate([sent[:10], kept])).counts
        # Frames after the last one received cannot show as a gap yet.
        truly_lost = round(kept[-1] * 30) + 1 - counts.frames
        assert abs(counts.lost - truly_lost) <= 0.03 * 600, (keep_fraction, counts, truly_lost)


def test_outages_and_disorder_are_not_lost_frames() -> None:
    stamps = [i / 10 for i in range(20)] + [10 + i / 10 for i in range(20)] + [5.0, 12.0]
    counts = _feed(stamps).counts
    assert (counts.lost, counts.outages, counts.out_of_order) == (0, 1, 1)
