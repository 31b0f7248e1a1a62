"""Object shape and material variety (sim-to-real option ``materials``).

The drawers paint flat colours on clean, upright silhouettes. Real objects are lit from one
side, shine, have grain, and are seen at an angle. This option gives each drawn object a
slightly different shape (aspect and perspective) and a material: shading towards a light
direction, a rounded body's fall-off, surface grain and, on some, a specular streak. Colours
keep their hue, so the caption colour words stay true.
"""

from __future__ import annotations

import cv2
import numpy as np

from perception_training.synthetic.painter import Sprite

_ASPECT = (0.85, 1.15)  # width scale of the silhouette
_KEYSTONE = 0.12  # top edge up to this much narrower or wider than the bottom (seen from above/below)
_SHADING = (0.1, 0.35)  # brightness span across the object towards the light
_ROUNDING = (0.0, 0.2)  # darkening of the left and right edges of a rounded body
_GRAIN = (0.02, 0.07)  # relative amplitude of low-frequency surface grain
_GRAIN_CELL = 4  # pixels per grain cell
_SPECULAR_CHANCE = 0.25
_SPECULAR = (0.2, 0.5)  # how far the streak's centre goes towards white


def vary_shape(rng: np.random.Generator, sprite: Sprite) -> Sprite:
    """``sprite`` stretched sideways and seen slightly from above or below (a keystone warp)."""
    h, w = sprite.height, sprite.width
    new_w = max(2.0, w * float(rng.uniform(*_ASPECT)))
    top_inset = new_w * float(rng.uniform(-_KEYSTONE, _KEYSTONE)) / 2
    pad = max(-top_inset, 0.0)  # a top wider than the bottom needs room on both sides
    out_w = int(np.ceil(new_w + 2 * pad))
    source = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    target = np.float32(
        [
            [pad + top_inset, 0],
            [pad + new_w - top_inset, 0],
            [pad + new_w, h],
            [pad, h],
        ]
    )
    matrix = cv2.getPerspectiveTransform(source, target)
    warp = {"dsize": (out_w, h), "flags": cv2.INTER_LINEAR, "borderValue": 0}
    return Sprite(
        cv2.warpPerspective(sprite.color, matrix, **warp), cv2.warpPerspective(sprite.alpha, matrix, **warp)
    )


def dress_material(rng: np.random.Generator, sprite: Sprite) -> Sprite:
    """``sprite`` shaded towards a light, rounded at its sides, grainy and perhaps shiny."""
    h, w = sprite.height, sprite.width
    x = (np.arange(w, dtype=np.float32) + 0.5) / w - 0.5
    y = (np.arange(h, dtype=np.float32) + 0.5) / h - 0.5
    angle = float(rng.uniform(0, 2 * np.pi))
    light = 1.0 + float(rng.uniform(*_SHADING)) * (np.cos(angle) * x[None, :] + np.sin(angle) * y[:, None])
    light = light - float(rng.uniform(*_ROUNDING)) * (2 * x[None, :]) ** 2
    cells = rng.normal(size=(h // _GRAIN_CELL + 2, w // _GRAIN_CELL + 2)).astype(np.float32)
    light = light * (
        1.0 + float(rng.uniform(*_GRAIN)) * cv2.resize(cells, (w, h), interpolation=cv2.INTER_LINEAR)
    )
    full = 255.0 * sprite.alpha[..., None]  # premultiplied white: the brightest a pixel may be
    color = sprite.color * light[..., None]
    if rng.random() < _SPECULAR_CHANCE:
        centre, width = float(rng.uniform(-0.35, 0.35)), float(rng.uniform(0.04, 0.1))
        streak = float(rng.uniform(*_SPECULAR)) * np.exp(-(((x - centre) / width) ** 2) / 2)
        color = color + streak[None, :, None] * (full - color)
    return Sprite(np.clip(color, 0.0, full).astype(np.float32), sprite.alpha)


def with_material(rng: np.random.Generator, sprite: Sprite) -> Sprite:
    """The sprite with a varied shape and a material, trimmed to the pixels it covers."""
    return dress_material(rng, vary_shape(rng, sprite)).cropped()
