"""Clutter that looks like a knife but is not (sim-to-real option ``lookalikes``).

Long thin things lie on real tables: cutlery, pens, rulers, tools. The detector's knife false
alarms on real photos (docs/ood.md) come from exactly such shapes, so the world draws them in
its own style (the knife's steel, any rotation, similar lengths) and never labels them: they
are background the detector must learn to leave alone.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from perception_training.synthetic.objects import DrawnObject, steel, uniform
from perception_training.synthetic.painter import Painter
from perception_training.synthetic.palette import jitter, pick, scale

_MARGIN = 4.0


def _rect(x0: float, y0: float, x1: float, y1: float) -> list[tuple[float, float]]:
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def _finish(p: Painter, rng: np.random.Generator, name: str, color: str) -> DrawnObject:
    return DrawnObject(p.sprite().rotated(uniform(rng, 0, 360)).cropped(), color, {"lookalike": name})


def draw_spoon(rng: np.random.Generator, size: float) -> DrawnObject:
    """Steel spoon: a thin handle widening into an oval bowl with a highlight."""
    length, bowl_len = size, size * uniform(rng, 0.28, 0.36)
    bowl_w = bowl_len * uniform(rng, 0.55, 0.7)
    p = Painter(length + 2 * _MARGIN, bowl_w + 2 * _MARGIN)
    mid, x0 = p.height / 2.0, _MARGIN
    metal = steel(p, rng, mid - bowl_w / 2, mid + bowl_w / 2)
    p.paint(p.line_mask((x0, mid), (x0 + length - bowl_len, mid), max(2.0, length * 0.045)), metal)
    bowl_centre = (x0 + length - bowl_len / 2, mid)
    p.paint(p.ellipse_mask(bowl_centre, (bowl_len / 2, bowl_w / 2)), metal)
    p.paint(p.ellipse_mask(bowl_centre, (bowl_len / 2, bowl_w / 2), thickness=1), (90, 90, 90), 0.6)
    p.ellipse(
        (bowl_centre[0] - bowl_len * 0.1, mid - bowl_w * 0.15),
        (bowl_len * 0.2, bowl_w * 0.12),
        (250, 250, 250),
        0.5,
    )
    return _finish(p, rng, "spoon", "gray")


def draw_fork(rng: np.random.Generator, size: float) -> DrawnObject:
    """Steel fork: a handle, a neck and three or four tines."""
    length, head = size, size * uniform(rng, 0.25, 0.32)
    head_w = head * uniform(rng, 0.4, 0.55)
    p = Painter(length + 2 * _MARGIN, head_w + 2 * _MARGIN)
    mid, x0 = p.height / 2.0, _MARGIN
    metal = steel(p, rng, mid - head_w / 2, mid + head_w / 2)
    p.paint(p.line_mask((x0, mid), (x0 + length - head, mid), max(2.0, length * 0.045)), metal)
    neck = x0 + length - head
    p.paint(
        p.polygon_mask(
            [
                (neck, mid - 2),
                (neck + head * 0.35, mid - head_w / 2),
                (neck + head * 0.35, mid + head_w / 2),
                (neck, mid + 2),
            ]
        ),
        metal,
    )
    tines = int(rng.integers(3, 5))
    for y in np.linspace(mid - head_w / 2 + 1, mid + head_w / 2 - 1, tines):
        p.paint(
            p.line_mask((neck + head * 0.3, y), (x0 + length, y), max(1.0, head_w / (2.5 * tines))), metal
        )
    return _finish(p, rng, "fork", "gray")


def draw_pen(rng: np.random.Generator, size: float) -> DrawnObject:
    """Ballpoint pen: coloured barrel, darker cap with a clip, a small metal tip."""
    length, width = size, size * uniform(rng, 0.06, 0.09)
    p = Painter(length + 2 * _MARGIN, width * 1.6 + 2 * _MARGIN)
    mid, x0 = p.height / 2.0, _MARGIN
    name, body = pick(rng, ("black", "blue", "red", "white", "yellow", "green"))
    tip = length * 0.08
    y0, y1 = mid - width / 2, mid + width / 2
    p.polygon(_rect(x0, y0, x0 + length - tip, y1), p.vertical(scale(body, 1.25), scale(body, 0.7), y0, y1))
    p.polygon([(x0 + length - tip, y0), (x0 + length, mid), (x0 + length - tip, y1)], steel(p, rng, y0, y1))
    cap = length * uniform(rng, 0.25, 0.35)
    p.polygon(_rect(x0, y0, x0 + cap, y1), scale(body, 0.6))
    p.line(
        (x0 + width, mid - width * 0.75),
        (x0 + cap * 0.9, mid - width * 0.75),
        max(1.0, width * 0.3),
        (200, 200, 200),
    )
    return _finish(p, rng, "pen", name)


def draw_ruler(rng: np.random.Generator, size: float) -> DrawnObject:
    """Flat ruler (wood, clear plastic or steel) with tick marks along one edge."""
    length, width = size, size * uniform(rng, 0.08, 0.12)
    p = Painter(length + 2 * _MARGIN, width + 2 * _MARGIN)
    top, x0 = _MARGIN, _MARGIN
    outline = _rect(x0, top, x0 + length, top + width)
    material = ("wood", "plastic", "steel")[int(rng.integers(3))]
    if material == "steel":
        p.paint(p.polygon_mask(outline), steel(p, rng, top, top + width))
    else:
        base = (80, 170, 215) if material == "wood" else (225, 230, 225)
        p.paint(p.polygon_mask(outline), jitter(rng, base, 15), 1.0 if material == "wood" else 0.45)
    p.paint(p.outline_mask(outline, 1.0), (70, 70, 70), 0.6)
    step = length / int(rng.integers(15, 31))
    for i, x in enumerate(np.arange(x0 + step, x0 + length - 1, step)):
        p.line((x, top), (x, top + width * (0.45 if i % 5 == 4 else 0.25)), 1.0, (30, 30, 30), 0.8)
    return _finish(p, rng, "ruler", {"wood": "brown", "plastic": "clear", "steel": "gray"}[material])


def draw_screwdriver(rng: np.random.Generator, size: float) -> DrawnObject:
    """Screwdriver: a thick ridged coloured handle and a thin steel shaft with a flat tip."""
    length = size
    handle_len, handle_w = length * uniform(rng, 0.35, 0.45), length * uniform(rng, 0.09, 0.13)
    p = Painter(length + 2 * _MARGIN, handle_w + 2 * _MARGIN)
    mid, x0 = p.height / 2.0, _MARGIN
    name, color = pick(rng, ("red", "yellow", "blue", "black", "orange"))
    grip = [
        (x0, mid - handle_w * 0.4),
        (x0 + 3, mid - handle_w / 2),
        (x0 + handle_len, mid - handle_w * 0.35),
        (x0 + handle_len, mid + handle_w * 0.35),
        (x0 + 3, mid + handle_w / 2),
        (x0, mid + handle_w * 0.4),
    ]
    p.paint(
        p.polygon_mask(grip),
        p.vertical(scale(color, 1.2), scale(color, 0.65), mid - handle_w / 2, mid + handle_w / 2),
    )
    for t in (0.2, 0.4, 0.6, 0.8):
        x = x0 + handle_len * t
        p.line((x, mid - handle_w * 0.4), (x, mid + handle_w * 0.4), 1.0, scale(color, 0.5), 0.7)
    shaft = max(1.5, length * 0.03)
    p.paint(
        p.line_mask((x0 + handle_len, mid), (x0 + length - 1, mid), shaft),
        steel(p, rng, mid - shaft, mid + shaft),
    )
    return _finish(p, rng, "screwdriver", name)


# drawer and length range (fraction of the image height, like ObjectType.size)
LOOKALIKES: dict[str, tuple[Callable[[np.random.Generator, float], DrawnObject], tuple[float, float]]] = {
    "spoon": (draw_spoon, (0.18, 0.35)),
    "fork": (draw_fork, (0.18, 0.35)),
    "pen": (draw_pen, (0.12, 0.25)),
    "ruler": (draw_ruler, (0.25, 0.5)),
    "screwdriver": (draw_screwdriver, (0.18, 0.35)),
}
