"""Frame quality: frames too small or too blurred for a model's domain score to judge.

The domain score (:mod:`perception.core.domain`) misses them: a small or soft view of a
synthetic scene keeps the style statistics of one (docs/ood.md measures 0-1 of 20 tiny or
blurred frames flagged by any model). So the model nodes also check each frame's short side
and its sharpness, the variance of the Laplacian of its grey image downscaled to at most
``ANALYSIS_SIDE`` px on its short side (so a camera's resolution does not change the measure),
and a frame that fails is out of domain whatever its model's score. Both checks are a few
OpenCV calls (well under a millisecond at 640x480); the thresholds are measured by
``python -m perception_training.ood.frame_quality`` on held-out synthetic frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from perception.core.domain_verdict import DomainVerdict

ANALYSIS_SIDE = 240  # frames are downscaled to this short side [px] before measuring sharpness
# The smallest camera frames a shipped model was trained on: the sign model's 160x120 videos.
DEFAULT_MIN_SIDE = 120
# Half the 0.1 % quantile of the sharpness of held-out in-domain frames (seed 0, split
# ood-calibration; python -m perception_training.ood.frame_quality, docs/ood.md).
DEFAULT_MIN_SHARPNESS = 23.0
_FLOOR = 1e-3  # sharpness of a flat frame, so that its ratio stays finite


def sharpness(image_bgr: np.ndarray) -> float:
    """Variance of the Laplacian of the frame's grey image at most ``ANALYSIS_SIDE`` px high:
    high for sharp edges and texture, near 0 for a blurred, blank or uniform frame."""
    grey = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY)
    height, width = grey.shape
    scale = ANALYSIS_SIDE / min(height, width)
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(grey, cv2.CV_32F).var())


@dataclass(frozen=True)
class FrameQuality:
    """What the check found: ``score`` is the worst of minimum / measured (> 1 fails), ``reason``
    says why the frame failed ("" when it passed)."""

    short_side: int
    sharpness: float
    score: float
    reason: str = ""

    @property
    def passed(self) -> bool:
        return not self.reason

    def applied_to(self, verdict: DomainVerdict) -> DomainVerdict:
        """The model's verdict on this frame, out of domain also when the frame failed; a verdict
        without statistics (score < 0) stays unscored: what the model's domain is, is unknown."""
        if verdict.score < 0.0 or self.passed:
            return verdict
        return DomainVerdict(max(verdict.score, self.score), False, self.reason)


@dataclass(frozen=True)
class FrameQualityCheck:
    """The two minimums (0 switches a check off)."""

    min_side: int = DEFAULT_MIN_SIDE
    min_sharpness: float = DEFAULT_MIN_SHARPNESS

    def assess(self, image_bgr: np.ndarray) -> FrameQuality:
        """Measure one HxWx3 BGR uint8 frame against the minimums."""
        side = int(min(image_bgr.shape[:2]))
        sharp = sharpness(image_bgr) if self.min_sharpness > 0.0 else float("nan")
        ratios, reasons = [0.0], []
        if self.min_side > 0:
            ratios.append(self.min_side / max(side, 1))
            if side < self.min_side:
                reasons.append(f"too small: short side {side} px < {self.min_side} px")
        if self.min_sharpness > 0.0:
            ratios.append(self.min_sharpness / max(sharp, _FLOOR))
            if sharp < self.min_sharpness:
                reasons.append(f"blurred or featureless: sharpness {sharp:.1f} < {self.min_sharpness:.1f}")
        return FrameQuality(side, sharp, max(ratios), "; ".join(reasons))
