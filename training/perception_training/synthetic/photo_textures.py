"""Real photo textures for the world's walls, tables and patches (sim-to-real option ``photos``).

Only grace_hopper.jpg (shipped by matplotlib) is used: docs/ood.md reserves it for sim-to-real
training and evaluates on the other packaged photos. It is a portrait, so textures come only
from regions without the person's head (the flag, the blue backdrop, the dark uniform): a face
pasted into the background unlabelled would teach the detector that people are background.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from perception_training.synthetic.background import Background
from perception_training.synthetic.painter import Sprite, composite

PHOTO = "grace_hopper"
# x0, y0, x1, y1 in the 512x600 photo: flag, blue backdrop, uniform below the collar.
REGIONS: tuple[tuple[int, int, int, int], ...] = ((0, 0, 140, 340), (380, 0, 512, 400), (0, 440, 512, 600))
MIN_CROP = 32  # pixels of the photo


@lru_cache(maxsize=1)
def texture_photo() -> np.ndarray:
    """The reserved photo as float32 BGR, read once from the installed package."""
    # Imported here: the ood package imports the synthetic world, which imports this module.
    from perception_training.ood.real_photos import load_photo

    try:
        return load_photo(PHOTO).astype(np.float32)
    except (FileNotFoundError, ValueError) as error:
        raise FileNotFoundError(
            f"sim-to-real option 'photos' needs {PHOTO}.jpg from matplotlib's sample data ({error}); "
            "install matplotlib, or leave 'photos' out of --sim2real"
        ) from error


def photo_texture(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A random crop of one region, mirrored or not, with its colours shifted, resized to width x height."""
    x0, y0, x1, y1 = REGIONS[int(rng.integers(len(REGIONS)))]
    crop_w = int(rng.integers(MIN_CROP, x1 - x0 + 1))
    crop_h = int(rng.integers(MIN_CROP, y1 - y0 + 1))
    x, y = int(rng.integers(x0, x1 - crop_w + 1)), int(rng.integers(y0, y1 - crop_h + 1))
    crop = texture_photo()[y : y + crop_h, x : x + crop_w]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    if rng.random() < 0.5:
        crop = crop[::-1]
    texture = cv2.resize(np.ascontiguousarray(crop), (width, height), interpolation=cv2.INTER_LINEAR)
    gain = rng.uniform(0.7, 1.3, 3).astype(np.float32)
    return np.clip(texture * gain, 0, 255)


def _blend(rng: np.random.Generator, area: np.ndarray, strength: tuple[float, float]) -> None:
    """Mix a photo texture into ``area`` (a float32 view) in place."""
    opacity = rng.uniform(*strength)
    area[:] = area * (1 - opacity) + photo_texture(rng, area.shape[1], area.shape[0]) * opacity


def dress_with_photos(rng: np.random.Generator, background: Background) -> None:
    """Photo textures on the wall and table (sometimes) and 1-4 photo patches, in place.

    Patches are posters, books and cloths: rectangles or ellipses of texture with soft edges,
    anywhere in the frame (objects are composited over them afterwards).
    """
    image = background.image
    height, width = image.shape[:2]
    top = background.table_top
    if top > 0 and rng.random() < 0.5:
        _blend(rng, image[:top], (0.5, 1.0))
    if top < height and rng.random() < 0.3:
        _blend(rng, image[top:], (0.3, 0.8))
    for _ in range(int(rng.integers(1, 5))):
        w = int(rng.uniform(0.08, 0.35) * width) + 4
        h = int(rng.uniform(0.08, 0.35) * height) + 4
        x, y = int(rng.integers(-w // 4, width - w // 2)), int(rng.integers(-h // 4, height - h // 2))
        mask = np.zeros((h, w), np.float32)
        if rng.random() < 0.6:
            mask[:] = 1.0
        else:
            cv2.ellipse(mask, (w // 2, h // 2), (w // 2, h // 2), 0, 0, 360, 1.0, -1, cv2.LINE_AA)
        mask = cv2.GaussianBlur(mask, (0, 0), 1.0, borderType=cv2.BORDER_CONSTANT)
        composite(image, Sprite(photo_texture(rng, w, h) * mask[..., None], mask), x, y)
