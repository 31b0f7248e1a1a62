"""Score a sign node's SignLabel stream against a sign bag's ground-truth words.

A signed word counts as recognised when the node published that word for a clip ending
within one clip duration of the word's end (before or after: a clip that saw most of the
motion may answer early). Idle time is judged clip by clip: the windows of ``clip_s`` that a
node running every ``stride_s`` would see and that overlap no signed word; a published word
whose clip overlaps no signed word is a word during idle time. A published word whose clip
overlaps signing but none of the words it overlaps is a wrong word (counted, not a criterion: a
clip that straddles the approach to a sign can name another one). Used by the end-to-end test
and ``make demo``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perception.bags.reading import read_messages
from perception.nodes.framework.conversions import stamp_seconds
from perception_training.bags.synthetic import IMAGE_TOPIC
from perception_training.bags.synthetic_sign import SIGNS_TOPIC


@dataclass(frozen=True)
class Span:
    """A word (or a published clip) between two stamps [s]."""

    word: str
    start_s: float
    end_s: float

    def overlaps(self, other: Span) -> bool:
        return self.start_s < other.end_s and other.start_s < self.end_s


@dataclass(frozen=True)
class SignBagScore:
    segments: int
    recognised: int
    idle_clips: int
    idle_words: int
    missed: tuple[Span, ...]
    published: tuple[Span, ...] = ()
    wrong_words: int = 0  # published words whose clip overlaps signing but names no word it overlaps

    @property
    def segment_accuracy(self) -> float:
        return self.recognised / self.segments if self.segments else 0.0

    @property
    def idle_word_rate(self) -> float:
        return self.idle_words / self.idle_clips if self.idle_clips else 0.0


def label_spans(messages: Sequence[Any]) -> list[Span]:
    """SignLabel messages (ground truth or output) as spans from clip_start to clip_end."""
    return [Span(m.label, stamp_seconds(m.clip_start), stamp_seconds(m.clip_end)) for m in messages]


def score_sign_bag(
    truth: Sequence[Span], outputs: Sequence[Span], first_s: float, clip_s: float, stride_s: float
) -> SignBagScore:
    """Recognised words and idle false words; ``first_s`` is the bag's first frame stamp."""
    if not truth:
        raise ValueError("the bag has no signed word to score against")
    recognised, missed = 0, []
    for word in truth:
        if any(o.word == word.word and abs(o.end_s - word.end_s) <= clip_s for o in outputs):
            recognised += 1
        else:
            missed.append(word)
    horizon = max(w.end_s for w in truth) + clip_s  # words cut off by the bag's end are not truth
    idle_clips, end = 0, first_s + clip_s
    while end <= horizon:
        window = Span("", end - clip_s, end)
        idle_clips += not any(window.overlaps(w) for w in truth)
        end += stride_s
    idle_words = sum(1 for o in outputs if o.end_s <= horizon and not any(o.overlaps(w) for w in truth))
    wrong_words = sum(
        1
        for o in outputs
        if any(o.overlaps(w) for w in truth) and not any(o.overlaps(w) and o.word == w.word for w in truth)
    )
    return SignBagScore(
        len(truth), recognised, idle_clips, idle_words, tuple(missed), wrong_words=wrong_words
    )


def score_recorded(bag: Path, recorded: Path, clip_s: float, stride_s: float) -> SignBagScore:
    """Score the SignLabels recorded in ``recorded`` against the sign bag ``bag`` they came from."""
    truth = label_spans([msg for _, _, msg in read_messages(bag, [SIGNS_TOPIC])])
    first_s = min(stamp_seconds(msg.header.stamp) for _, _, msg in read_messages(bag, [IMAGE_TOPIC]))
    outputs = label_spans(
        [msg for _, _, msg in read_messages(recorded) if type(msg).__name__.endswith("SignLabel")]
    )
    score = score_sign_bag(truth, outputs, first_s, clip_s, stride_s)
    return SignBagScore(**{**score.__dict__, "published": tuple(outputs)})
