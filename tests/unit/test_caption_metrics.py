"""Caption metrics (BLEU, ROUGE-L, CIDEr) via pycocoevalcap on known sentences, word match, and
METEOR falling back."""

from __future__ import annotations

import pytest

from perception_training.captioning.metrics import CaptionScorer, word_match

REFERENCES = [
    [["a", "red", "cup", "on", "the", "table"], ["there", "is", "a", "red", "cup", "on", "the", "table"]],
    [["two", "knives", "on", "the", "table"], ["a", "table", "with", "two", "knives"]],
]


def test_identical_captions_score_bleu_one():
    scores = CaptionScorer(meteor=False).score(REFERENCES, [REFERENCES[0][0], REFERENCES[1][0]])
    for n in range(1, 5):
        assert scores[f"BLEU-{n}"] == pytest.approx(1.0, abs=1e-6)
    assert scores["CIDEr"] > 0
    assert scores["ROUGE-L"] == pytest.approx(1.0, abs=1e-6)  # the longest common subsequence is all
    assert "METEOR" not in scores


def test_wrong_words_score_lower():
    perfect = CaptionScorer(meteor=False).score(REFERENCES, [REFERENCES[0][0], REFERENCES[1][0]])
    wrong = CaptionScorer(meteor=False).score(
        REFERENCES, [["a", "blue", "cup", "on", "the", "chair"], ["two", "forks", "on", "the", "table"]]
    )
    assert 0 < wrong["BLEU-1"] < perfect["BLEU-1"]
    assert wrong["BLEU-4"] < 0.5 < perfect["BLEU-4"]
    assert wrong["CIDEr"] < perfect["CIDEr"]
    # "a blue cup on the chair" vs "a red cup on the table": 3 of 6 words in order (a, cup, on the)
    assert 0.5 < wrong["ROUGE-L"] < perfect["ROUGE-L"]


def test_empty_hypothesis_and_mismatched_lengths():
    scores = CaptionScorer(meteor=False).score(REFERENCES, [[], REFERENCES[1][0]])
    assert scores["BLEU-1"] < 1.0
    with pytest.raises(ValueError, match="one hypothesis per image"):
        CaptionScorer(meteor=False).score(REFERENCES, [[]])


def test_meteor_failure_is_reported_and_skipped(monkeypatch, caplog):
    class BrokenMeteor:
        def __init__(self):
            raise FileNotFoundError("java")

    monkeypatch.setattr("pycocoevalcap.meteor.meteor.Meteor", BrokenMeteor)
    scorer = CaptionScorer(meteor=True)
    scores = scorer.score(REFERENCES, [REFERENCES[0][0], REFERENCES[1][0]])
    assert "METEOR" not in scores and scores["BLEU-4"] > 0.99
    assert "METEOR unavailable" in caplog.text


def test_word_match_percentage():
    assert word_match(["a", "red", "cup"], ["a", "red", "cup"]) == 100.0
    assert word_match(["a", "blue", "cup"], ["a", "red", "cup"]) == pytest.approx(200 / 3)
    assert word_match(["a", "a", "a", "a"], ["a", "cup"]) == 25.0
    assert word_match([], []) == 100.0
