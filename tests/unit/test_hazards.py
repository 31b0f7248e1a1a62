"""Hazard rules: YAML validation, lemma/morpheme matching, detections, cooldown, severity order."""

from __future__ import annotations

from pathlib import Path

import pytest

from perception.core.hazards import HazardMatcher, HazardRuleError, lemma, load_hazard_rules

DEFAULT_RULES = Path(__file__).resolve().parents[2] / "ros_ws/src/perception/config/hazards.yaml"


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _rules_file(tmp_path, text: str) -> Path:
    path = tmp_path / "hazards.yaml"
    path.write_text(text, encoding="utf-8")
    return path


RULES = """
hazards:
  knife:
    severity: danger
    cooldown_s: 30
    words: [knife, 칼]
    classes: [knife]
    message: "Danger: {matched} ({severity})"
  stairs:
    severity: warning
    cooldown_s: 5
    words: [stairs, flight of steps]
  cup:
    severity: info
    cooldown_s: 0
    words: [cup]
"""


@pytest.fixture
def matcher(tmp_path):
    clock = FakeClock()
    return HazardMatcher(load_hazard_rules(_rules_file(tmp_path, RULES)), clock=clock), clock


def test_default_rules_file_loads_and_has_a_knife():
    rules = {rule.name: rule for rule in load_hazard_rules(DEFAULT_RULES)}
    assert rules["knife"].severity == "danger" and "knife" in rules["knife"].classes
    assert HazardMatcher(rules.values()).match_caption("Two knives on the table.")[0].hazard == "knife"


@pytest.mark.parametrize("caption", ["A knife on the table.", "Two KNIVES and a fork.", "knife"])
def test_knife_and_knives_match(matcher, caption):
    alerts = matcher[0].match_caption(caption)
    assert [alert.hazard for alert in alerts] == ["knife"]
    assert alerts[0].message == "Danger: knife (danger)" and alerts[0].source == "caption"


def test_unrelated_words_do_not_match(matcher):
    assert matcher[0].match_caption("A knifeless fork near the door.") == []


def test_phrases_match_as_contiguous_lemmas(matcher):
    assert [a.hazard for a in matcher[0].match_caption("two flights of steps ahead")] == ["stairs"]
    assert matcher[0].match_caption("steps of a flight") == []


def test_korean_caption_matches_by_morpheme(matcher):
    alerts = matcher[0].match_caption("탁자 위에 칼이 두 개 있다.")
    assert [alert.hazard for alert in alerts] == ["knife"] and alerts[0].matched == "칼"


def test_cooldown_limits_alerts_per_hazard(matcher):
    hazards, clock = matcher
    assert len(hazards.match_caption("a knife")) == 1
    for _ in range(50):
        clock.now += 0.5
        assert hazards.match_caption("a knife") == []
        assert hazards.match_detections(["knife"]) == []  # same hazard from the detector: still cooling down
    clock.now += 6.0  # 31 s after the first alert
    assert [a.source for a in hazards.match_detections(["knife", "person"])] == ["detection"]


def test_one_alert_per_hazard_per_caption_even_without_cooldown(matcher):
    assert len(matcher[0].match_caption("a cup, a cup and another cup")) == 1


def test_alerts_sorted_most_severe_first(matcher):
    alerts = matcher[0].match_caption("a cup next to the stairs and a knife")
    assert [alert.severity for alert in alerts] == ["danger", "warning", "info"]


def test_lemma_rules():
    assert [lemma(w) for w in ["knives", "boxes", "batteries", "glasses", "bus", "scissors", "cups"]] == [
        "knife",
        "box",
        "battery",
        "glass",
        "bus",
        "scissors",
        "cup",
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("hazards: [knife", "not valid YAML"),
        ("rules: {}", "top-level 'hazards:'"),
        ("hazards:\n  knife: {severity: fatal, words: [knife]}", "severity 'fatal'"),
        ("hazards:\n  knife: {severity: danger}", "no words and no classes"),
        ("hazards:\n  knife: {words: [knife], cooldown_s: -1}", "cooldown_s must be a number"),
        ("hazards:\n  knife: {words: knife}", "words must be a list"),
        ("hazards:\n  knife: {words: [knife], cooldown: 3}", "unknown keys \\['cooldown'\\]"),
        ("hazards:\n  knife: {words: [knife], message: 'a {thing}'}", "unknown fields \\['thing'\\]"),
    ],
)
def test_malformed_rules_raise_clear_errors(tmp_path, text, problem):
    with pytest.raises(HazardRuleError, match=problem):
        load_hazard_rules(_rules_file(tmp_path, text))


def test_missing_rules_file(tmp_path):
    with pytest.raises(HazardRuleError, match="does not exist"):
        load_hazard_rules(tmp_path / "none.yaml")
