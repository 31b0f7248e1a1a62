"""Camera effects applied last: uneven lighting, slight defocus and sensor noise."""

from __future__ import annotations

import cv2
import numpy as np


def camera_effects(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """Turn a float32 rendering into a camera-like uint8 BGR frame."""
    h, w = image.shape[:2]
    angle = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    ramp = (xs / w - 0.5) * np.cos(angle) + (ys / h - 0.5) * np.sin(angle)
    light = rng.uniform(0.85, 1.1) + rng.uniform(0.1, 0.35) * ramp
    out = image * light[..., None]
    sigma = rng.uniform(0.0, 1.0)
    if sigma > 0.3:
        out = cv2.GaussianBlur(out, (0, 0), sigma)
    out = out + rng.normal(0.0, rng.uniform(2.0, 7.0), out.shape).astype(np.float32)
    return np.clip(out, 0, 255).round().astype(np.uint8)
