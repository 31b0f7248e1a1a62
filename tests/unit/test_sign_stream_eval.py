"""Offline stream evaluation: clips cut as sign_node cuts them, the node's publish rule, scoring."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from perception.core.sign import SignPrediction, confident_word
from perception.core.video_models import VideoModelSpec
from perception_training.sign.bag_score import SignBagScore, Span
from perception_training.sign.stream_eval import (
    StreamClip,
    plot_per_stream,
    published,
    stream_clips,
    summary,
    total,
)

CLASSES = ["_idle_", "위", "아래"]


class ShapeRecorder:
    """Records the frame shapes of each clip; its best class is the clip's index modulo 3."""

    spec = VideoModelSpec("stub", num_frames=5, crop_size=24, sampling_rate=1)
    clip_duration = 0.4
    classes = CLASSES

    def __init__(self) -> None:
        self.shapes: list[list[tuple[int, ...]]] = []

    def predict(self, frames: list[np.ndarray]) -> np.ndarray:
        self.shapes.append([frame.shape for frame in frames])
        probabilities = np.full(3, 0.1)
        probabilities[len(self.shapes) % 3] = 0.8
        return probabilities

    def top_k(self, probabilities: np.ndarray, k: int) -> list[SignPrediction]:
        order = np.argsort(-probabilities)[:k]
        return [SignPrediction(int(i), CLASSES[i], CLASSES[i], float(probabilities[i])) for i in order]


def test_clips_span_the_model_clip_every_stride_on_downscaled_frames() -> None:
    recorder = ShapeRecorder()
    frames = [np.zeros((96, 128, 3), np.uint8)] * 90  # 3 s at 30 fps
    clips = stream_clips(recorder, frames, fps=30.0, stride_s=0.5)
    assert [round(c.end_s - c.start_s, 6) for c in clips] == [0.4] * len(clips)
    assert np.allclose(np.diff([c.end_s for c in clips]), 0.5)
    assert clips[0].end_s == pytest.approx(0.4) and len(clips) == 6  # 0.4, 0.9, ..., 2.9
    assert all(shapes == [(24, 32, 3)] * 5 for shapes in recorder.shapes)  # 10 Hz, short side 24


def test_published_words_follow_the_nodes_rule() -> None:
    recorder = ShapeRecorder()
    clips = [
        StreamClip(0.0, 0.4, np.array([0.8, 0.1, 0.1])),  # background: never published
        StreamClip(0.5, 0.9, np.array([0.1, 0.7, 0.2])),
        StreamClip(1.0, 1.4, np.array([0.2, 0.3, 0.5])),  # below 0.6
    ]
    assert published(recorder, clips, 0.6, "_idle_") == [Span("위", 0.5, 0.9)]
    assert [s.word for s in published(recorder, clips, 0.5, "_idle_")] == ["위", "아래"]
    assert [s.word for s in published(recorder, clips, 0.5, "")] == ["_idle_", "위", "아래"]


def test_confident_word_is_none_for_background_or_a_low_score() -> None:
    best = SignPrediction(1, "위", "up", 0.7)
    assert confident_word([best], "_idle_", 0.6) == best
    assert confident_word([best], "_idle_", 0.71) is None
    assert confident_word([SignPrediction(0, "_idle_", "idle", 0.9)], "_idle_", 0.1) is None


def test_streams_add_up_and_the_plot_is_written(tmp_path: Path) -> None:
    one = SignBagScore(9, 8, 30, 1, (Span("위", 1.0, 2.0),), wrong_words=2)
    two = SignBagScore(8, 8, 20, 0, (), wrong_words=1)
    combined = total([one, two])
    assert (combined.segments, combined.recognised, combined.idle_clips, combined.idle_words) == (
        17,
        16,
        50,
        1,
    )
    assert combined.wrong_words == 3 and combined.missed == one.missed
    assert "16/17 words (94.1%)" in summary(combined)
    assert plot_per_stream({1: one, 2: two}, tmp_path / "streams.png", "t").stat().st_size > 0
