"""Scoring a sign node's output stream against a sign bag's ground truth."""

from __future__ import annotations

import pytest

from perception_training.sign.bag_score import Span, score_sign_bag

TRUTH = [Span("위", 2.0, 3.0), Span("아래", 5.0, 6.0)]


def test_words_within_one_clip_of_the_end_count_and_idle_words_are_counted() -> None:
    outputs = [
        Span("위", 2.2, 3.4),  # recognised, 0.4 s after the end
        Span("위", 4.0, 4.5),  # a word during idle time
        Span("왼쪽", 5.1, 6.1),  # wrong word: "아래" is missed
    ]
    score = score_sign_bag(TRUTH, outputs, first_s=0.0, clip_s=1.0, stride_s=0.5)
    assert (score.segments, score.recognised, score.segment_accuracy) == (2, 1, 0.5)
    assert [w.word for w in score.missed] == ["아래"]
    # Clip windows ending at 1.0, 1.5, ... 7.0 that overlap neither word: 1.0, 1.5, 2.0, 4.0, 4.5, 5.0, 7.0
    assert score.idle_clips == 7 and score.idle_words == 1
    assert score.idle_word_rate == pytest.approx(1 / 7)
    assert score.wrong_words == 1  # "왼쪽" over "아래"


def test_a_late_answer_or_none_is_a_miss_and_an_empty_truth_is_refused() -> None:
    score = score_sign_bag(TRUTH, [Span("위", 3.5, 4.5)], first_s=0.0, clip_s=1.0, stride_s=0.5)
    assert score.recognised == 0
    with pytest.raises(ValueError, match="no signed word"):
        score_sign_bag([], [], first_s=0.0, clip_s=1.0, stride_s=0.5)
