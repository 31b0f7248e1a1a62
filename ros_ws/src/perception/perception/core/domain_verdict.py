"""A frame's out-of-domain verdict, apart from how it was computed.

Kept free of torch: the frame-quality check, the nodes and the ONNX Runtime models hand
verdicts around without the torch-side scoring of :mod:`perception.core.domain`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

NOT_SCORED = -1.0  # domain_score of a frame no statistics judged


@dataclass(frozen=True)
class DomainVerdict:
    """A frame's distance from the training data in units of the threshold, whether it is within,
    and why not when something other than the distance decided (a frame too small or blurred)."""

    score: float
    in_domain: bool
    reason: str = ""


UNSCORED = DomainVerdict(NOT_SCORED, True)


def verdict_of(relative_distance: float) -> DomainVerdict:
    """The verdict of a distance already divided by its threshold: in domain while at most 1."""
    return DomainVerdict(float(relative_distance), bool(relative_distance <= 1.0))


def worst(verdicts: Sequence[DomainVerdict]) -> DomainVerdict:
    """One verdict for a frame judged in parts (glass crops): the farthest part; unscored if none."""
    return max(verdicts, key=lambda verdict: verdict.score, default=UNSCORED)
