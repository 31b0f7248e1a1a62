"""Indoor backdrops: a textured wall above a table top, with non-class clutter on both.

The clutter (frames, books, bowls, blobs) gives the detector negatives that are neither
plain colour nor any of the classes, so it has to learn the silhouettes, not "anything".
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from perception_training.synthetic.palette import COLORS, jitter


@dataclass(frozen=True)
class Background:
    """The backdrop image (float32 BGR, 0-255) and the row where the table top starts."""

    image: np.ndarray
    table_top: int


def _smooth_noise(rng: np.random.Generator, width: int, height: int, cells: int, amount: float) -> np.ndarray:
    """Low-frequency multiplicative texture around 1.0 (plaster, cloth, uneven light)."""
    grid = rng.normal(1.0, amount, (max(2, cells * height // max(width, 1)), cells)).astype(np.float32)
    return cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)[..., None]


def _wall(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    base = np.asarray(jitter(rng, (rng.uniform(120, 235), rng.uniform(120, 235), rng.uniform(120, 235)), 10))
    rows = np.linspace(1.08, 0.9, height, dtype=np.float32)[:, None, None]
    image = np.broadcast_to(base.astype(np.float32), (height, width, 3)) * rows
    image = image * _smooth_noise(rng, width, height, 8, 0.05)
    if rng.random() < 0.35:  # wallpaper stripes
        period = rng.uniform(12, 40)
        stripes = 1.0 + 0.06 * (np.sin(np.arange(width) * 2 * np.pi / period) > 0)
        image = image * stripes[None, :, None].astype(np.float32)
    return image


def _table(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    style = rng.integers(3)
    if style == 0:  # wood grain
        base = jitter(rng, (50, 95, 150), 20)
        ys = np.arange(height, dtype=np.float32)[:, None]
        xs = np.arange(width, dtype=np.float32)[None, :]
        grain = 1.0 + 0.08 * np.sin(ys * rng.uniform(0.3, 0.8) + 3 * np.sin(xs / rng.uniform(30, 90)))
        image = np.asarray(base, np.float32) * grain[..., None]
    elif style == 1:  # checked cloth
        base = np.asarray(
            jitter(rng, COLORS[("red", "blue", "green", "white")[rng.integers(4)]], 20), np.float32
        )
        cell = int(rng.integers(10, 30))
        checks = ((np.arange(height)[:, None] // cell + np.arange(width)[None, :] // cell) % 2).astype(
            np.float32
        )
        image = base * (0.8 + 0.25 * checks[..., None])
    else:  # plain laminate / stone
        image = np.broadcast_to(np.asarray(jitter(rng, (170, 170, 165), 40), np.float32), (height, width, 3))
        image = image * _smooth_noise(rng, width, height, 16, 0.06)
    return np.clip(image, 0, 255).astype(np.float32)


def _cable_points(rng: np.random.Generator, cx: int, cy: int, s: int) -> np.ndarray:
    """A smoothly bending path from (cx, cy): its heading turns 90-200 degrees overall."""
    steps = 12
    bend = rng.choice((-1.0, 1.0)) * rng.uniform(np.pi / 2, 10 * np.pi / 9)
    headings = rng.uniform(0, 2 * np.pi) + np.linspace(0, bend, steps)
    step = rng.uniform(2.0, 4.0) * s / steps
    xs = cx + np.concatenate(([0.0], np.cumsum(step * np.cos(headings))))
    ys = cy + np.concatenate(([0.0], np.cumsum(step * np.sin(headings))))
    return np.stack([xs, ys], 1).round().astype(np.int32)


def _clutter(rng: np.random.Generator, image: np.ndarray, count: int) -> None:
    """Paint ``count`` random non-class shapes: frames, boxes, bowls, blobs, cables."""
    h, w = image.shape[:2]
    for _ in range(count):
        color = tuple(float(c) for c in rng.uniform(20, 240, 3))
        cx, cy = int(rng.uniform(0, w)), int(rng.uniform(0, h))
        s = int(rng.uniform(0.03, 0.15) * h) + 2
        shape = rng.integers(5)
        if shape == 0:  # wide box or book
            cv2.rectangle(image, (cx - s, cy - s // 3), (cx + s, cy + s // 3), color, -1, cv2.LINE_AA)
        elif shape == 1:  # picture frame
            cv2.rectangle(
                image, (cx - s, cy - s), (cx + s, cy + int(s * 0.7)), color, max(2, s // 6), cv2.LINE_AA
            )
        elif shape == 2:  # bowl or plate seen from the side
            cv2.ellipse(image, (cx, cy), (s, max(2, s // 3)), 0, 0, 360, color, -1, cv2.LINE_AA)
        elif shape == 3:  # irregular blob
            angles = np.sort(rng.uniform(0, 2 * np.pi, 7))
            radii = rng.uniform(0.5, 1.0, 7) * s
            pts = np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], 1).astype(np.int32)
            cv2.fillPoly(image, [pts], color, cv2.LINE_AA)
        else:  # cable: curved, so that no straight blade-like segment teaches "knife" on clutter
            cv2.polylines(image, [_cable_points(rng, cx, cy, s)], False, color, max(1, s // 8), cv2.LINE_AA)


def draw_background(rng: np.random.Generator, width: int, height: int) -> Background:
    """A wall/table backdrop with clutter; the table occupies the rows from ``table_top`` down."""
    table_top = int(height * rng.uniform(0.3, 0.6))
    image = np.empty((height, width, 3), np.float32)
    image[:table_top] = _wall(rng, width, table_top)
    image[table_top:] = _table(rng, width, height - table_top)
    edge = max(2, height // 80)
    image[table_top : table_top + edge] *= 0.6
    _clutter(rng, image, int(rng.integers(2, 9)))
    return Background(image, table_top)


def plain_background(rng: np.random.Generator, width: int, height: int) -> Background:
    """A single flat colour: for tests and isolated object views."""
    color = rng.uniform(40, 220, 3).round().astype(np.float32)
    return Background(np.broadcast_to(color, (height, width, 3)).copy(), 0)
