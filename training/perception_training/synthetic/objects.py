"""Procedural drawers, one per object type, each with a silhouette a small detector can learn.

Every drawer takes a random generator and the object's size in pixels and returns a cropped
:class:`Sprite` plus the colour word and attributes the captions and classifiers use. Shapes
vary (proportions, colours, liquids, poses) within what the real object looks like.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from perception_training.synthetic.painter import Color, Painter, Sprite
from perception_training.synthetic.palette import COLORS, SKIN_TONES, jitter, pick, scale

GLASS_TINT: Color = (232, 236, 230)
CLEAR = "clear"


@dataclass(frozen=True)
class DrawnObject:
    """What a drawer produced: the pixels, the caption colour word and extra ground truth."""

    sprite: Sprite
    color: str
    attributes: dict[str, str] = field(default_factory=dict)


def uniform(rng: np.random.Generator, low: float, high: float) -> float:
    """A float drawn uniformly from [low, high) (drawers sample dozens of these)."""
    return float(rng.uniform(low, high))


def _glass_body(p: Painter, outline: np.ndarray, rng: np.random.Generator, size: float) -> None:
    """Translucent glass: faint tinted fill, visible edges, an elliptic rim and a highlight."""
    p.paint(p.polygon_mask(outline), jitter(rng, GLASS_TINT, 8), uniform(rng, 0.22, 0.35))
    edge, edge_opacity = jitter(rng, (150, 156, 150), 12), uniform(rng, 0.7, 0.9)
    thickness = max(1.0, size * 0.022)
    p.paint(p.outline_mask(outline, thickness), edge, edge_opacity)
    xs, ys = outline[:, 0], outline[:, 1]
    rim = xs[ys <= ys.min() + 0.5]
    minor = max(1.5, (rim.max() - rim.min()) * 0.08)
    rim_mask = p.ellipse_mask(
        ((rim.max() + rim.min()) / 2, ys.min() + minor),
        ((rim.max() - rim.min()) / 2, minor),
        thickness=max(1, round(thickness)),
    )
    p.paint(rim_mask, edge, edge_opacity)
    x = xs.min() + (xs.max() - xs.min()) * uniform(rng, 0.18, 0.3)
    p.line(
        (x, ys.min() + size * 0.1), (x, ys.max() - size * 0.15), max(1.0, size * 0.025), (255, 255, 255), 0.55
    )


def _liquid(p: Painter, outline: np.ndarray, level: float, color: Color, opacity: float) -> None:
    """Fill the part of a glass below ``level`` (a row) with a liquid."""
    rows = (np.arange(p.height, dtype=np.float32) >= level)[:, None]
    p.paint(p.polygon_mask(outline) * rows, color, opacity)


def steel(p: Painter, rng: np.random.Generator, y0: float, y1: float) -> np.ndarray:
    """Brushed steel lit from above, light at row y0 to dark at y1 (blades, cutlery, tools)."""
    return p.vertical(jitter(rng, (225, 225, 220), 10), jitter(rng, (140, 140, 135), 10), y0, y1)


def draw_person(rng: np.random.Generator, size: float) -> DrawnObject:
    """Standing person: head with hair, shirt torso, arms, trousers, shoes."""
    h = size
    p = Painter(h * 0.9 + 8, h + 8)
    cx, top = p.width / 2.0, 4.0
    skin = jitter(rng, SKIN_TONES[int(rng.integers(len(SKIN_TONES)))], 8)
    shirt_name, shirt = pick(rng, tuple(COLORS))
    _, pants = pick(rng, ("blue", "black", "brown", "gray", "green"))
    r = h * uniform(rng, 0.065, 0.08)
    shoulder_w, hip_w = h * uniform(rng, 0.12, 0.16), h * uniform(rng, 0.09, 0.11)
    y_sh, y_hip = top + 2.4 * r, top + h * uniform(rng, 0.52, 0.58)
    limb = h * uniform(rng, 0.055, 0.07)
    for side in (-1, 1):
        spread = np.radians(uniform(rng, 5, 25) if rng.random() < 0.8 else uniform(rng, 60, 150))
        arm_len = h * 0.36
        hand = (cx + side * (shoulder_w + np.sin(spread) * arm_len), y_sh + np.cos(spread) * arm_len)
        p.line((cx + side * shoulder_w * 0.9, y_sh + limb * 0.4), hand, limb, shirt)
        p.ellipse(hand, (limb * 0.6, limb * 0.6), skin)
        leg = np.radians(uniform(rng, 2, 14))
        foot = (cx + side * (hip_w * 0.6 + np.sin(leg) * h * 0.4), top + h - limb * 0.5)
        p.line((cx + side * hip_w * 0.55, y_hip), foot, limb * 1.2, pants)
        p.ellipse((foot[0] + side * limb * 0.3, foot[1]), (limb * 0.9, limb * 0.5), (25, 25, 25))
    torso = np.array(
        [
            [cx - shoulder_w, y_sh],
            [cx + shoulder_w, y_sh],
            [cx + hip_w, y_hip + limb * 0.3],
            [cx - hip_w, y_hip + limb * 0.3],
        ]
    )
    p.polygon(torso, shirt)
    p.line((cx, top + 1.6 * r), (cx, y_sh + 2), r * 0.7, skin)
    p.ellipse((cx, top + r), (r * 0.85, r), skin)
    _, hair = pick(rng, ("black", "brown", "yellow", "gray"))
    p.ellipse((cx, top + r * 0.8), (r * 0.9, r * 0.85), hair, start=180, end=360)
    return DrawnObject(p.sprite(), shirt_name)


def draw_bottle(rng: np.random.Generator, size: float) -> DrawnObject:
    """Bottle: tall cylindrical body, rounded shoulders, narrow neck, cap and a paper label."""
    h = size
    w = h * uniform(rng, 0.22, 0.32)
    neck = w * uniform(rng, 0.28, 0.4)
    p = Painter(w + 8, h + 8)
    cx, top = p.width / 2.0, 4.0
    y_cap, y_neck, y_sh = (
        top + h * uniform(rng, 0.05, 0.08),
        top + h * uniform(rng, 0.2, 0.3),
        top + h * uniform(rng, 0.35, 0.45),
    )
    angles = np.linspace(0, np.pi / 2, 8)
    right_shoulder = [
        (cx + neck / 2 + (w - neck) / 2 * (1 - np.cos(a)), y_neck + (y_sh - y_neck) * np.sin(a))
        for a in angles
    ]
    outline = np.array(
        [
            (cx - neck / 2, y_cap),
            (cx + neck / 2, y_cap),
            *right_shoulder,
            (cx + w / 2, top + h - 2),
            (cx + w / 2 - 2, top + h),
            (cx - w / 2 + 2, top + h),
            (cx - w / 2, top + h - 2),
            *[(2 * cx - x, y) for x, y in reversed(right_shoulder)],
        ]
    )
    name = ("green", "brown", "blue", "white", CLEAR)[int(rng.integers(5))]
    if name == CLEAR:
        body, opacity = jitter(rng, GLASS_TINT, 8), 0.45
        _liquid(p, outline, uniform(rng, y_sh, top + h * 0.8), jitter(rng, (60, 170, 200), 25), 0.7)
    else:
        body, opacity = jitter(rng, COLORS[name]), uniform(rng, 0.85, 0.97)
    p.paint(p.polygon_mask(outline), p.cylinder(body, cx - w / 2, cx + w / 2), opacity)
    label_top = top + h * uniform(rng, 0.5, 0.6)
    label = np.array(
        [
            (cx - w / 2, label_top),
            (cx + w / 2, label_top),
            (cx + w / 2, label_top + h * 0.22),
            (cx - w / 2, label_top + h * 0.22),
        ]
    )
    _, label_color = pick(rng, ("white", "yellow", "red", "orange", "black"))
    p.paint(p.polygon_mask(label), p.cylinder(label_color, cx - w / 2, cx + w / 2, 0.3))
    _, cap = pick(rng, ("red", "yellow", "gray", "black", "white", "blue"))
    p.polygon(
        [
            (cx - neck * 0.6, top),
            (cx + neck * 0.6, top),
            (cx + neck * 0.6, y_cap + 1),
            (cx - neck * 0.6, y_cap + 1),
        ],
        cap,
    )
    return DrawnObject(p.sprite(), name, {"material": "glass" if name != "white" else "plastic"})


def draw_wine_glass(rng: np.random.Generator, size: float) -> DrawnObject:
    """Stemmed wine glass: translucent bowl (maybe with wine), thin stem, round foot."""
    h = size
    bw = h * uniform(rng, 0.36, 0.5)
    p = Painter(bw + 8, h + 8)
    cx, top = p.width / 2.0, 4.0
    depth = h * uniform(rng, 0.4, 0.52)
    rim = bw / 2 * uniform(rng, 0.8, 0.95)
    theta = np.linspace(0, np.pi, 24)
    curve = [(cx + bw / 2 * np.cos(t), top + depth * 0.35 + depth * 0.65 * np.sin(t)) for t in theta]
    bowl = np.array([(cx + rim, top), *curve, (cx - rim, top)])
    liquid, color = [("red wine", (45, 20, 120)), ("white wine", (120, 215, 235)), ("empty", None)][
        int(rng.integers(3))
    ]
    if color is not None:
        _liquid(p, bowl, top + depth * uniform(rng, 0.35, 0.7), jitter(rng, color, 10), 0.85)
    _glass_body(p, bowl, rng, h)
    foot_y = top + h - h * 0.02
    p.line((cx, top + depth - 1), (cx, foot_y), max(1.5, h * 0.03), jitter(rng, (210, 215, 210), 6), 0.7)
    p.ellipse((cx, foot_y), (bw * uniform(rng, 0.3, 0.42), max(1.5, h * 0.025)), (215, 220, 215), 0.7)
    return DrawnObject(p.sprite(), CLEAR, {"liquid": liquid})


def draw_mug(rng: np.random.Generator, size: float) -> DrawnObject:
    """Opaque mug: cylindrical body with a dark opening and a ring handle on one side."""
    h = size
    bw = h * uniform(rng, 0.75, 1.0)
    p = Painter(bw * 1.45 + 8, h + 8)
    x0, top = 4.0, 4.0
    cx = x0 + bw / 2
    rim_h = h * uniform(rng, 0.06, 0.1)
    name, body = pick(rng, tuple(COLORS))
    handle_h = h * uniform(rng, 0.25, 0.32)
    p.ellipse(
        (x0 + bw, top + h * 0.48),
        (bw * 0.25, handle_h),
        body,
        thickness=max(2, round(h * 0.09)),
        start=-90,
        end=90,
    )
    outline = np.array(
        [
            (x0, top + rim_h),
            (x0 + bw, top + rim_h),
            (x0 + bw * 0.97, top + h - 3),
            (cx + bw * 0.4, top + h),
            (cx - bw * 0.4, top + h),
            (x0 + bw * 0.03, top + h - 3),
        ]
    )
    p.paint(p.polygon_mask(outline), p.cylinder(body, x0, x0 + bw))
    p.ellipse((cx, top + rim_h), (bw / 2, rim_h), scale(body, 1.1))
    p.ellipse((cx, top + rim_h), (bw / 2 * 0.88, rim_h * 0.75), scale(body, 0.35))
    if rng.random() < 0.4:
        _, stripe = pick(rng, ("white", "black", "red", "yellow", "blue"))
        y = top + h * uniform(rng, 0.4, 0.7)
        rows = (np.arange(p.height) > y) & (np.arange(p.height) < y + h * 0.1)
        p.paint(p.polygon_mask(outline) * rows[:, None], stripe)
    sprite = p.sprite()
    return DrawnObject(sprite.flipped() if rng.random() < 0.5 else sprite, name)


def _tumbler(
    rng: np.random.Generator, size: float, aspect: float, taper: float, base: float
) -> tuple[Painter, np.ndarray]:
    """A handle-less glass (pint, shot glass) outline on a fresh painter."""
    h = size
    top_w = h * aspect
    p = Painter(top_w + 8, h + 8)
    cx, top = p.width / 2.0, 4.0
    bottom_w = top_w * taper
    outline = np.array(
        [
            (cx - top_w / 2, top),
            (cx + top_w / 2, top),
            (cx + bottom_w / 2, top + h),
            (cx - bottom_w / 2, top + h),
        ]
    )
    slab = np.array(
        [
            (cx - bottom_w / 2 * 1.01, top + h * (1 - base)),
            (cx + bottom_w / 2 * 1.01, top + h * (1 - base)),
            (cx + bottom_w / 2, top + h),
            (cx - bottom_w / 2, top + h),
        ]
    )
    p.paint(p.polygon_mask(slab), (215, 222, 215), 0.5)
    return p, outline


def draw_beer_glass(rng: np.random.Generator, size: float) -> DrawnObject:
    """Tall clear pint glass, no handle: amber beer under a white head, or empty."""
    p, outline = _tumbler(rng, size, uniform(rng, 0.48, 0.62), uniform(rng, 0.72, 0.85), 0.06)
    top, h = 4.0, size
    liquid = "beer" if rng.random() < 0.75 else "empty"
    if liquid == "beer":
        level = top + h * uniform(rng, 0.08, 0.45)
        foam = level - h * uniform(rng, 0.04, 0.1)
        _liquid(
            p,
            outline,
            level,
            p.vertical(jitter(rng, (40, 160, 235), 12), (20, 100, 190), level, top + h),
            0.88,
        )
        rows = (np.arange(p.height) >= max(foam, top)) & (np.arange(p.height) < level + 1)
        p.paint(p.polygon_mask(outline) * rows[:, None], jitter(rng, (225, 240, 245), 6), 0.95)
    _glass_body(p, outline, rng, h)
    return DrawnObject(p.sprite(), CLEAR, {"liquid": liquid})


def draw_soju_glass(rng: np.random.Generator, size: float) -> DrawnObject:
    """Small clear shot glass with a thick base, often holding clear soju."""
    p, outline = _tumbler(rng, size, uniform(rng, 0.8, 1.05), uniform(rng, 0.62, 0.75), 0.2)
    top, h = 4.0, size
    liquid = "soju" if rng.random() < 0.7 else "empty"
    if liquid == "soju":
        _liquid(p, outline, top + h * uniform(rng, 0.2, 0.5), jitter(rng, (225, 215, 190), 8), 0.45)
    _glass_body(p, outline, rng, h)
    return DrawnObject(p.sprite(), CLEAR, {"liquid": liquid})


def draw_knife(rng: np.random.Generator, size: float) -> DrawnObject:
    """Kitchen knife at any rotation: long thin metallic blade, darker riveted handle."""
    length = size
    handle_len = length * uniform(rng, 0.3, 0.4)
    blade_w, handle_w = length * uniform(rng, 0.08, 0.12), length * uniform(rng, 0.065, 0.09)
    p = Painter(length + 8, blade_w * 1.6 + 8)
    x0, mid = 4.0, p.height / 2.0
    spine = mid - blade_w * 0.45
    tip = length * uniform(rng, 0.1, 0.2)
    edge = [(x0 + length - tip * t, spine + blade_w * np.sin(t * np.pi / 2)) for t in np.linspace(0, 1, 8)]
    blade = np.array(
        [
            (x0 + handle_len - 2, spine),
            (x0 + length - tip, spine),
            *edge,
            (x0 + handle_len - 2, spine + blade_w),
        ]
    )
    p.paint(p.polygon_mask(blade), steel(p, rng, spine, spine + blade_w))
    p.paint(p.outline_mask(blade, max(1.0, blade_w * 0.08)), (90, 90, 90), 0.6)  # a visible steel edge
    p.line(
        (x0 + handle_len, spine + blade_w * 0.25),
        (x0 + length - tip * 1.2, spine + blade_w * 0.25),
        max(1.0, blade_w * 0.08),
        (250, 250, 250),
        0.6,
    )
    name, handle = pick(rng, ("black", "brown", "red", "blue", "gray"))
    top = mid - handle_w / 2 + blade_w * 0.1
    grip = np.array(
        [
            (x0, top + 2),
            (x0 + 2, top),
            (x0 + handle_len, top),
            (x0 + handle_len, top + handle_w),
            (x0 + 2, top + handle_w),
            (x0, top + handle_w - 2),
        ]
    )
    p.paint(p.polygon_mask(grip), p.vertical(scale(handle, 1.2), scale(handle, 0.7), top, top + handle_w))
    for t in (0.25, 0.55, 0.85):
        p.ellipse(
            (x0 + handle_len * t, top + handle_w / 2), (handle_w * 0.15, handle_w * 0.15), (200, 200, 200)
        )
    return DrawnObject(p.sprite().rotated(uniform(rng, 0, 360)).cropped(), name)


@dataclass(frozen=True)
class ObjectType:
    """A drawable kind of object, the COCO class it is labelled as and where it appears."""

    name: str
    class_name: str
    draw: Callable[[np.random.Generator, float], DrawnObject]
    size: tuple[float, float]  # drawn size (height, or length for knives) as a fraction of image height
    on_table: bool
    glass_type: str | None = None  # the glass classifier's class, for drinking vessels


OBJECT_TYPES: dict[str, ObjectType] = {
    t.name: t
    for t in (
        ObjectType("person", "person", draw_person, (0.25, 0.45), on_table=False),
        ObjectType("bottle", "bottle", draw_bottle, (0.14, 0.42), on_table=True),
        ObjectType("wine_glass", "wine glass", draw_wine_glass, (0.12, 0.36), True, "wine_glass"),
        ObjectType("mug", "cup", draw_mug, (0.09, 0.26), True, "cup"),
        ObjectType("beer_glass", "cup", draw_beer_glass, (0.14, 0.36), True, "beer_glass"),
        ObjectType("soju_glass", "wine glass", draw_soju_glass, (0.08, 0.16), True, "soju_glass"),
        ObjectType("knife", "knife", draw_knife, (0.2, 0.45), on_table=True),
    )
}
# The glass classifier's classes and the object type drawing each.
GLASS_TYPES: tuple[str, ...] = ("cup", "beer_glass", "soju_glass")
GLASS_TYPE_OBJECTS: dict[str, str] = {
    t.glass_type: t.name for t in OBJECT_TYPES.values() if t.glass_type in GLASS_TYPES
}
