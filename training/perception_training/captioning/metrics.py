"""Caption quality: BLEU-1..4, METEOR, ROUGE-L and CIDEr from pycocoevalcap (the COCO caption toolkit).

Captions are scored on our own tokens (words for English, morphemes for Korean) joined by
spaces, so both languages are scored the same way. METEOR runs a Java process; if Java is
missing or the process dies, METEOR is reported as unavailable and skipped rather than
stopping a training run.
"""

from __future__ import annotations

import logging
from collections import Counter

from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.rouge.rouge import Rouge

LOG = logging.getLogger(__name__)
_EMPTY = "<empty>"  # pycocoevalcap needs a non-empty hypothesis


class CaptionScorer:
    """Corpus-level caption metrics; keeps one METEOR Java process for all epochs."""

    def __init__(self, meteor: bool = True) -> None:
        self._meteor_wanted = meteor
        self._meteor = None

    def score(self, references: list[list[list[str]]], hypotheses: list[list[str]]) -> dict[str, float]:
        """``references[i]`` are the token lists of image i, ``hypotheses[i]`` its generated tokens."""
        if len(references) != len(hypotheses) or not hypotheses:
            raise ValueError(
                f"need one hypothesis per image, got {len(hypotheses)} for {len(references)} images"
            )
        gts = {index: [" ".join(tokens) for tokens in refs] for index, refs in enumerate(references)}
        res = {index: [" ".join(tokens) or _EMPTY] for index, tokens in enumerate(hypotheses)}
        bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
        scores = {f"BLEU-{n}": float(value) for n, value in enumerate(bleu, start=1)}
        scores["ROUGE-L"] = float(Rouge().compute_score(gts, res)[0])
        scores["CIDEr"] = float(Cider().compute_score(gts, res)[0])
        meteor = self._meteor_score(gts, res)
        if meteor is not None:
            scores["METEOR"] = meteor
        return scores

    def _meteor_score(self, gts: dict, res: dict) -> float | None:
        if not self._meteor_wanted:
            return None
        try:
            if self._meteor is None:
                from pycocoevalcap.meteor.meteor import Meteor

                self._meteor = Meteor()
            return float(self._meteor.compute_score(gts, res)[0])
        except (OSError, ValueError, RuntimeError) as error:
            LOG.warning(
                "METEOR unavailable (%s: %s); skipping it. It needs Java 8+ on PATH.",
                type(error).__name__,
                error,
            )
            self._meteor_wanted = False
            self._meteor = None
            return None


def word_match(generated: list[str], reference: list[str]) -> float:
    """Percentage of words shared by two captions (multiset overlap over the longer one)."""
    longest = max(len(generated), len(reference))
    if longest == 0:
        return 100.0
    return 100.0 * sum((Counter(generated) & Counter(reference)).values()) / longest
