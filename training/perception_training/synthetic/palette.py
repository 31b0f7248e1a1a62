"""Named colours: the words captions use and the BGR values objects are painted with."""

from __future__ import annotations

import numpy as np

from perception_training.synthetic.painter import Color

# One representative BGR value per colour word; objects jitter around it.
COLORS: dict[str, Color] = {
    "red": (40, 40, 200),
    "orange": (30, 130, 240),
    "yellow": (40, 210, 235),
    "green": (60, 160, 50),
    "blue": (190, 90, 30),
    "purple": (150, 50, 120),
    "pink": (180, 130, 240),
    "brown": (40, 75, 125),
    "black": (35, 35, 35),
    "white": (235, 235, 235),
    "gray": (140, 140, 140),
}
SKIN_TONES: tuple[Color, ...] = (
    (150, 180, 225),
    (120, 160, 210),
    (90, 130, 185),
    (60, 90, 140),
    (45, 65, 100),
)


def jitter(rng: np.random.Generator, color: Color, amount: float = 18.0) -> Color:
    """``color`` with a little per-channel variation, so no two objects are identical."""
    values = np.clip(np.asarray(color, np.float64) + rng.normal(0.0, amount, 3), 0, 255)
    return (float(values[0]), float(values[1]), float(values[2]))


def pick(rng: np.random.Generator, names: tuple[str, ...]) -> tuple[str, Color]:
    """A random colour word from ``names`` and a jittered BGR value for it."""
    name = names[int(rng.integers(len(names)))]
    return name, jitter(rng, COLORS[name])


def scale(color: Color, factor: float) -> Color:
    """``color`` made lighter (factor > 1) or darker (< 1)."""
    return (min(color[0] * factor, 255.0), min(color[1] * factor, 255.0), min(color[2] * factor, 255.0))
