"""Hazard rules for guidance of people with impaired sight: caption words -> alerts.

Rules come from YAML (see ``config/hazards.yaml``): per hazard the words that name it
(English words are compared by lemma, so "knives" matches "knife"; Korean words by Kiwi
morpheme, so "칼이" matches "칼"), detector class names, a severity, a cooldown so one knife
in view does not send fifty alerts, and a guidance message template.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from string import Formatter

import yaml

from perception.core.text.tokenizers import EnglishTokenizer, KoreanTokenizer

SEVERITIES = ("info", "warning", "danger")
_RULE_KEYS = {"severity", "cooldown_s", "words", "classes", "message"}
_MESSAGE_FIELDS = {"hazard", "severity", "matched", "caption"}
_HANGUL = re.compile(r"[\uac00-\ud7a3\u3131-\u318e]")
# Plurals English suffix rules get wrong; enough for hazard words (no lemmatizer is installed).
_IRREGULAR = {
    "knives": "knife",
    "wives": "wife",
    "lives": "life",
    "leaves": "leaf",
    "shelves": "shelf",
    "halves": "half",
    "wolves": "wolf",
    "people": "person",
    "children": "child",
    "men": "man",
    "women": "woman",
    "feet": "foot",
    "teeth": "tooth",
    "mice": "mouse",
    "geese": "goose",
    "buses": "bus",
}
_KEEP_S = ("ss", "us", "is", "scissors")


class HazardRuleError(ValueError):
    """The hazard rules file is missing, not YAML, or a rule is malformed."""


@dataclass(frozen=True)
class HazardRule:
    """One hazard: what names it, how bad it is, and how often it may alert."""

    name: str
    severity: str
    cooldown_s: float
    words: tuple[str, ...]
    classes: tuple[str, ...]
    message: str


@dataclass(frozen=True)
class HazardAlert:
    """A hazard found in a caption or a detection, ready for notifiers."""

    hazard: str
    severity: str
    message: str
    matched: str
    source: str  # "caption" or "detection"
    caption: str
    stamp: float  # wall-clock seconds (time.time())


def lemma(word: str) -> str:
    """Singular form of an English noun, by rule ("knives" -> "knife", "boxes" -> "box")."""
    word = word.lower()
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if len(word) <= 3 or word.endswith(_KEEP_S):
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes", "zes")):
        return word[:-2]
    return word[:-1] if word.endswith("s") else word


def load_hazard_rules(path: str | Path) -> list[HazardRule]:
    """Parse and validate a rules file; errors name the file, the rule and the fix."""
    path = Path(path)
    if not path.is_file():
        raise HazardRuleError(f"hazard rules file {path} does not exist; set rules_path to a YAML file")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise HazardRuleError(f"{path} is not valid YAML: {error}") from error
    if (
        not isinstance(document, dict)
        or not isinstance(document.get("hazards"), dict)
        or not document["hazards"]
    ):
        raise HazardRuleError(f"{path} needs a top-level 'hazards:' mapping of hazard name -> rule")
    return [_rule(path, str(name), body) for name, body in document["hazards"].items()]


def _rule(path: Path, name: str, body: object) -> HazardRule:
    where = f"{path}: hazard {name!r}"
    if not isinstance(body, dict):
        raise HazardRuleError(f"{where} must be a mapping with severity, words/classes, cooldown_s, message")
    unknown = set(body) - _RULE_KEYS
    if unknown:
        raise HazardRuleError(f"{where} has unknown keys {sorted(unknown)}; allowed: {sorted(_RULE_KEYS)}")
    severity = body.get("severity", "warning")
    if severity not in SEVERITIES:
        raise HazardRuleError(f"{where}: severity {severity!r} is not one of {SEVERITIES}")
    words, classes = _strings(where, body, "words"), _strings(where, body, "classes")
    if not words and not classes:
        raise HazardRuleError(f"{where} names no words and no classes, so it can never fire")
    cooldown = body.get("cooldown_s", 10.0)
    if not isinstance(cooldown, (int, float)) or isinstance(cooldown, bool) or cooldown < 0:
        raise HazardRuleError(f"{where}: cooldown_s must be a number >= 0, got {cooldown!r}")
    message = str(body.get("message", "{severity}: {hazard} ahead"))
    fields = {field for _, field, _, _ in Formatter().parse(message) if field is not None}
    if fields - _MESSAGE_FIELDS:
        raise HazardRuleError(
            f"{where}: message uses unknown fields {sorted(fields - _MESSAGE_FIELDS)}; "
            f"use {sorted(_MESSAGE_FIELDS)}"
        )
    return HazardRule(name, severity, float(cooldown), words, classes, message)


def _strings(where: str, body: dict, key: str) -> tuple[str, ...]:
    values = body.get(key, [])
    if not isinstance(values, list) or not all(isinstance(value, str) and value.strip() for value in values):
        raise HazardRuleError(f"{where}: {key} must be a list of non-empty strings, got {values!r}")
    return tuple(value.strip() for value in values)


class HazardMatcher:
    """Match captions and detections against rules; at most one alert per hazard per cooldown.

    Thread-safe: the caption and detection callbacks of a node may call it concurrently.
    """

    def __init__(self, rules: Iterable[HazardRule], clock: Callable[[], float] = time.monotonic) -> None:
        self.rules = list(rules)
        self._clock = clock
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()
        self._english = {
            rule.name: [(self._english_phrase(w), w) for w in rule.words if not _HANGUL.search(w)]
            for rule in self.rules
        }
        self._korean: dict[str, list[tuple[tuple[str, ...], str]]] | None = (
            None  # built on the first Korean caption
        )

    def match_caption(self, caption: str) -> list[HazardAlert]:
        """Alerts for hazards named in ``caption`` (English or Korean), most severe first."""
        hits = []
        if _HANGUL.search(caption):
            forms = tuple(KoreanTokenizer.forms(caption))
            for rule in self.rules:
                hits += [(rule, word) for p, word in self._korean_phrases()[rule.name] if _contains(forms, p)]
        lemmas = tuple(lemma(token) for token in EnglishTokenizer().tokenize(caption))
        for rule in self.rules:
            hits += [(rule, word) for p, word in self._english[rule.name] if _contains(lemmas, p)]
        return self._fire(hits, "caption", caption)

    def match_detections(self, class_names: Iterable[str]) -> list[HazardAlert]:
        """Alerts for detector classes (COCO names) that a rule lists, most severe first."""
        seen = {name.lower() for name in class_names}
        hits = [(rule, name) for rule in self.rules for name in rule.classes if name.lower() in seen]
        return self._fire(hits, "detection", "")

    def _fire(self, hits: list[tuple[HazardRule, str]], source: str, caption: str) -> list[HazardAlert]:
        alerts, fired = [], set()
        now = self._clock()
        with self._lock:
            for rule, matched in hits:
                last = self._last.get(rule.name)
                if rule.name in fired or (last is not None and now - last < rule.cooldown_s):
                    continue
                fired.add(rule.name)
                self._last[rule.name] = now
                fields = {
                    "hazard": rule.name,
                    "severity": rule.severity,
                    "matched": matched,
                    "caption": caption,
                }
                alerts.append(
                    HazardAlert(
                        rule.name,
                        rule.severity,
                        rule.message.format(**fields),
                        matched,
                        source,
                        caption,
                        time.time(),
                    )
                )
        return sorted(alerts, key=lambda alert: SEVERITIES.index(alert.severity), reverse=True)

    @staticmethod
    def _english_phrase(words: str) -> tuple[str, ...]:
        return tuple(lemma(token) for token in EnglishTokenizer().tokenize(words))

    def _korean_phrases(self) -> dict[str, list[tuple[tuple[str, ...], str]]]:
        if self._korean is None:
            self._korean = {
                rule.name: [(tuple(KoreanTokenizer.forms(w)), w) for w in rule.words if _HANGUL.search(w)]
                for rule in self.rules
            }
        return self._korean


def _contains(tokens: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    """Whether ``phrase`` occurs as a contiguous run in ``tokens``."""
    width = len(phrase)
    return width > 0 and any(tokens[i : i + width] == phrase for i in range(len(tokens) - width + 1))
