"""The frame-quality check: frames too small or too blurred are out of any scored model's domain."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from perception.core.domain import UNSCORED, DomainVerdict
from perception.core.frame_quality import ANALYSIS_SIDE, FrameQualityCheck, sharpness

CHECK = FrameQualityCheck(min_side=120, min_sharpness=20.0)


def textured(height: int = 480, width: int = 640, seed: int = 0) -> np.ndarray:
    """A scene-like frame: blocks of random colour, so it has edges at every scale."""
    blocks = np.random.default_rng(seed).integers(0, 256, (height // 16, width // 16, 3), dtype=np.uint8)
    return cv2.resize(blocks, (width, height), interpolation=cv2.INTER_NEAREST)


def test_sharpness_falls_with_blur_and_does_not_grow_with_resolution() -> None:
    frame = textured()
    values = [sharpness(cv2.GaussianBlur(frame, (0, 0), sigma)) for sigma in (0.5, 2.0, 8.0)]
    assert values[0] > values[1] > values[2] and values[2] < 0.05 * values[0]
    assert sharpness(np.zeros((480, 640, 3), np.uint8)) == 0.0
    # a larger camera frame of the same view is measured at the same analysis size
    double = cv2.resize(frame, (1280, 960), interpolation=cv2.INTER_NEAREST)
    assert sharpness(double) == pytest.approx(sharpness(frame), rel=0.05)
    assert ANALYSIS_SIDE < 480


def test_a_sharp_camera_frame_passes_and_keeps_the_models_verdict() -> None:
    quality = CHECK.assess(textured())
    assert quality.passed and quality.reason == "" and quality.score < 1.0
    assert quality.short_side == 480
    verdict = DomainVerdict(0.7, True)
    assert quality.applied_to(verdict) is verdict
    assert quality.applied_to(DomainVerdict(2.0, False)) == DomainVerdict(2.0, False)


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (cv2.GaussianBlur(textured(), (0, 0), 8.0), "blurred or featureless"),
        (np.full((480, 640, 3), 128, np.uint8), "blurred or featureless"),
        (textured(48, 64), "too small: short side 48 px < 120 px"),
    ],
    ids=["blurred", "grey", "tiny"],
)
def test_a_small_or_soft_frame_is_out_of_a_scored_models_domain(frame: np.ndarray, reason: str) -> None:
    quality = CHECK.assess(frame)
    assert not quality.passed and reason in quality.reason and quality.score > 1.0
    judged = quality.applied_to(DomainVerdict(0.4, True))
    assert (judged.in_domain, judged.score, judged.reason) == (False, quality.score, quality.reason)
    # a model without statistics: its domain is unknown, the frame stays unscored
    assert quality.applied_to(UNSCORED) is UNSCORED


def test_zero_switches_a_check_off() -> None:
    tiny_and_flat = np.zeros((10, 10, 3), np.uint8)
    assert FrameQualityCheck(0, 0.0).assess(tiny_and_flat).passed
    assert FrameQualityCheck(0, 20.0).assess(tiny_and_flat).reason.startswith("blurred")
    assert FrameQualityCheck(120, 0.0).assess(tiny_and_flat).reason.startswith("too small")
