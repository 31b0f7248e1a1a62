"""Extra object categories that never appear in scenes, for the Tiny-ImageNet-style set.

Same contract as :mod:`objects`: ``draw(rng, size) -> DrawnObject`` with a cropped sprite.
"""

from __future__ import annotations

import numpy as np

from perception_training.synthetic.objects import DrawnObject, uniform
from perception_training.synthetic.painter import Painter
from perception_training.synthetic.palette import COLORS, jitter, pick, scale


def _regular_polygon(cx: float, cy: float, radius: float, sides: int, phase: float) -> np.ndarray:
    angles = phase + np.arange(sides) * 2 * np.pi / sides
    return np.stack([cx + radius * np.cos(angles), cy + radius * np.sin(angles)], 1)


def draw_soccer_ball(rng: np.random.Generator, size: float) -> DrawnObject:
    """White ball with a black central pentagon and five patches cut by the outline."""
    p = Painter(size + 8, size + 8)
    c, r = p.width / 2.0, size / 2.0
    disc = p.ellipse_mask((c, c), (r, r))
    p.paint(disc, jitter(rng, COLORS["white"], 6))
    phase = uniform(rng, 0, 2 * np.pi)
    patches = [_regular_polygon(c, c, r * 0.3, 5, phase)]
    patches += [
        _regular_polygon(c + r * 0.85 * np.cos(a), c + r * 0.85 * np.sin(a), r * 0.28, 5, a)
        for a in phase + np.pi / 5 + np.arange(5) * 2 * np.pi / 5
    ]
    for patch in patches:
        p.paint(p.polygon_mask(patch) * disc, (30, 30, 30))
    p.paint(p.ellipse_mask((c, c), (r, r), thickness=max(1, round(size * 0.03))), (60, 60, 60))
    return DrawnObject(p.sprite(), "white")


def draw_analog_clock(rng: np.random.Generator, size: float) -> DrawnObject:
    """Round clock: coloured rim, white face, twelve ticks, hour and minute hands."""
    p = Painter(size + 8, size + 8)
    c, r = p.width / 2.0, size / 2.0
    name, rim = pick(rng, ("black", "red", "blue", "brown", "gray"))
    p.ellipse((c, c), (r, r), rim)
    p.ellipse((c, c), (r * 0.86, r * 0.86), jitter(rng, (235, 240, 240), 6))
    for k in range(12):
        a = k * np.pi / 6
        inner = 0.62 if k % 3 == 0 else 0.7
        p.line(
            (c + r * inner * np.cos(a), c + r * inner * np.sin(a)),
            (c + r * 0.78 * np.cos(a), c + r * 0.78 * np.sin(a)),
            max(1.0, size * 0.025),
            (30, 30, 30),
        )
    for length, width in ((0.45, 0.06), (0.68, 0.035)):
        a = uniform(rng, 0, 2 * np.pi)
        p.line(
            (c, c),
            (c + r * length * np.cos(a), c + r * length * np.sin(a)),
            max(1.0, size * width),
            (20, 20, 20),
        )
    p.ellipse((c, c), (size * 0.04, size * 0.04), (20, 20, 20))
    return DrawnObject(p.sprite(), name)


def draw_umbrella(rng: np.random.Generator, size: float) -> DrawnObject:
    """Open umbrella from the side: scalloped dome canopy, straight shaft, hooked handle."""
    w = size * uniform(rng, 0.9, 1.1)
    p = Painter(w + 8, size + 8)
    c, top = p.width / 2.0, 4.0
    canopy_h = size * uniform(rng, 0.35, 0.45)
    name, cloth = pick(rng, ("red", "blue", "black", "yellow", "green", "purple", "pink"))
    dome = p.ellipse_mask((c, top + canopy_h), (w / 2, canopy_h), start=180, end=360)
    scallops = sum(
        p.ellipse_mask((c - w / 2 + w / 8 * (2 * k + 1), top + canopy_h), (w / 8, canopy_h * 0.18))
        for k in range(4)
    )
    p.paint(np.clip(dome - np.clip(scallops, 0, 1), 0, 1), p.cylinder(cloth, c - w / 2, c + w / 2, 0.5))
    shaft = max(1.5, size * 0.03)
    hook_r = size * 0.08
    p.line((c, top + canopy_h * 0.2), (c, top + size - hook_r * 1.2), shaft, (60, 60, 60))
    p.ellipse(
        (c - hook_r, top + size - hook_r * 1.2),
        (hook_r, hook_r),
        (40, 40, 40),
        start=0,
        end=180,
        thickness=max(1, round(shaft * 1.4)),
    )
    return DrawnObject(p.sprite(), name)


def draw_traffic_light(rng: np.random.Generator, size: float) -> DrawnObject:
    """Dark housing with red, amber and green lamps, one of them lit."""
    w = size * uniform(rng, 0.34, 0.42)
    p = Painter(w + 8, size + 8)
    c, top = p.width / 2.0, 4.0
    p.polygon(
        [(c - w / 2, top), (c + w / 2, top), (c + w / 2, top + size), (c - w / 2, top + size)],
        jitter(rng, (40, 40, 40), 8),
    )
    lit = int(rng.integers(3))
    for k, color in enumerate(((40, 40, 230), (30, 190, 250), (80, 200, 40))):
        lamp = scale(color, 1.1) if k == lit else scale(color, 0.3)
        p.ellipse((c, top + size * (0.18 + 0.32 * k)), (w * 0.34, w * 0.34), lamp)
    return DrawnObject(p.sprite(), ("red", "yellow", "green")[lit])


def draw_orange(rng: np.random.Generator, size: float) -> DrawnObject:
    """Orange fruit: shaded round body, a dimple and a small green leaf."""
    p = Painter(size + 8, size + 8)
    c, r = p.width / 2.0, size / 2.0 * uniform(rng, 0.85, 0.95)
    body = jitter(rng, COLORS["orange"], 12)
    p.paint(
        p.ellipse_mask((c, c + size * 0.04), (r, r * uniform(rng, 0.9, 1.0))),
        p.cylinder(body, c - r, c + r, 0.5),
    )
    p.ellipse((c, c - r * 0.82), (size * 0.04, size * 0.03), scale(body, 0.5))
    p.ellipse(
        (c + size * 0.1, c - r * 0.95),
        (size * 0.12, size * 0.05),
        jitter(rng, COLORS["green"], 10),
        angle=uniform(rng, -30, 10),
    )
    return DrawnObject(p.sprite(), "orange")


def draw_banana(rng: np.random.Generator, size: float) -> DrawnObject:
    """Curved yellow banana with brown tips, at any rotation."""
    p = Painter(size + 8, size * 0.6 + 8)
    c, top = p.width / 2.0, 4.0
    angles = np.linspace(np.pi * 0.15, np.pi * 0.85, 20)
    outer = [(c + size / 2 * np.cos(a), top + size * 0.55 * np.sin(a) - size * 0.05) for a in angles]
    inner = [
        (c + size / 2 * 0.9 * np.cos(a), top + size * 0.4 * np.sin(a) - size * 0.05) for a in angles[::-1]
    ]
    body = jitter(rng, COLORS["yellow"], 12)
    p.polygon(np.array(outer + inner), body)
    for end in (outer[0], outer[-1]):
        p.ellipse(end, (size * 0.04, size * 0.04), (30, 60, 90))
    return DrawnObject(p.sprite().rotated(uniform(rng, 0, 360)).cropped(), "yellow")
