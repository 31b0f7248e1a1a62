"""What a sign model's clients share, kept free of torch: the artifact kind, the background
class, a clip's ranking of words, the confident word, and the loader that picks the runtime by
the file's suffix (``.onnx``: ONNX Runtime, no torch; otherwise :mod:`perception.core.sign`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from perception.core.onnx_session import ON_CPU, ONNX_SUFFIX, SessionOptions

if TYPE_CHECKING:
    from perception.core.sign import SignRecognizer
    from perception.core.sign_onnx import OnnxSignRecognizer

SIGN_KIND = "sign"
# The background class: idle time and motion that is no sign. Reported like any class; the
# node treats it as "no sign". Reserved: no real word is spelt like this.
IDLE_CLASS, IDLE_GLOSS = "_idle_", "idle"


class SignPrediction(NamedTuple):
    """One word of a clip's ranking."""

    class_id: int
    word: str
    gloss: str
    probability: float


def clip_duration(metadata: dict[str, Any]) -> float:
    """Seconds of video one clip of this sign artifact spans (2 s when the metadata predates it)."""
    return float(metadata.get("clip_duration", 2.0))


def ranking(
    probabilities: np.ndarray, classes: Sequence[str], glosses: Sequence[str], k: int
) -> list[SignPrediction]:
    """The ``k`` most likely words of one clip's probabilities, best first."""
    order = np.argsort(-probabilities)[:k]
    return [SignPrediction(int(i), classes[i], glosses[i], float(probabilities[i])) for i in order]


def confident_word(
    ranking: Sequence[SignPrediction], background: str, min_score: float
) -> SignPrediction | None:
    """The best word of ``ranking`` if it is a word (not ``background``) at ``min_score`` or more.

    The sign node publishes exactly these; ``perception_training.sign.stream_eval`` scores with it.
    """
    best = ranking[0]
    if best.word == background or best.probability < min_score:
        return None
    return best


def load_recognizer(
    path: str | Path, device: str = "auto", onnx: SessionOptions = ON_CPU
) -> SignRecognizer | OnnxSignRecognizer:
    """An ``.onnx`` export on ONNX Runtime with ``onnx``; an artifact or TorchScript export on torch at
    ``device``."""
    if Path(path).suffix.lower() == ONNX_SUFFIX:
        from perception.core.sign_onnx import OnnxSignRecognizer

        return OnnxSignRecognizer.load(path, onnx)
    from perception.core.sign import SignRecognizer

    return SignRecognizer.load(path, device=device)
