"""Photometric and camera-model augmentation (sim-to-real option ``camera``).

A real camera bends straight lines (lens distortion), smears moving scenes (motion blur),
misses focus, misjudges exposure and white balance, adds colour noise and compresses to JPEG.
Albumentations draws these; each step runs on part of the scenes only, so clean frames stay in
the mix. Lens distortion moves pixels, so the boxes go through the same mapping.
"""

from __future__ import annotations

import dataclasses
import random
from functools import lru_cache

import albumentations as A
import cv2
import numpy as np

from perception_training.synthetic.scene import SceneObject


@lru_cache(maxsize=1)
def camera_pipeline() -> A.Compose:
    """The augmentation, built once; seeded per scene by :func:`camera_model`."""
    return A.Compose(
        [
            A.OpticalDistortion(distort_limit=(-0.25, 0.15), border_mode=cv2.BORDER_REPLICATE, p=0.5),
            A.OneOf(
                [A.MotionBlur(blur_limit=(3, 9)), A.Defocus(radius=(1, 3), alias_blur=(0.1, 0.3))], p=0.35
            ),
            A.RandomBrightnessContrast(brightness_limit=0.25, contrast_limit=0.25, p=0.6),  # exposure
            A.RandomGamma(gamma_limit=(70, 140), p=0.3),
            A.PlanckianJitter(p=0.5),  # white balance
            A.OneOf([A.ISONoise(intensity=(0.1, 0.5)), A.GaussNoise(std_range=(0.01, 0.05))], p=0.5),
            A.ImageCompression(quality_range=(30, 90), p=0.5),
        ],
        bbox_params=A.BboxParams(format="pascal_voc", label_fields=["order"], clip=True),
    )


def camera_model(
    rng: np.random.Generator, image: np.ndarray, objects: list[SceneObject]
) -> tuple[np.ndarray, list[SceneObject]]:
    """``image`` (BGR uint8) as a real camera might have taken it, and the objects' boxes moved with it.

    An object whose box the distortion pushes out of the frame is dropped.
    """
    pipeline = camera_pipeline()
    seed = int(rng.integers(2**31))
    # One generator shared by the steps: set_random_seed would give each step the same seed, so
    # they would all draw the same "apply?" number and mostly run (or skip) together.
    pipeline.set_random_state(np.random.default_rng(seed), random.Random(seed))
    rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    boxes = np.array([obj.box for obj in objects], np.float32).reshape(-1, 4)
    out = pipeline(image=rgb, bboxes=boxes, order=list(range(len(objects))))
    moved = [
        dataclasses.replace(objects[int(i)], box=tuple(float(v) for v in box))
        for box, i in zip(out["bboxes"], out["order"], strict=True)
    ]
    return cv2.cvtColor(out["image"], cv2.COLOR_RGB2BGR), moved
