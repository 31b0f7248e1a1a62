"""Augmentation: Albumentations pipelines whose strength rises on a cosine schedule, and
torchvision v2 CutMix/MixUp on whole batches, on a share of them that rises with the strength.

Starting gently lets a network first learn the easy signal; full-strength augmentation late
in training fights over-fitting when the model is able to memorise.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import albumentations as A
import numpy as np
import torch
from torchvision.transforms import v2

from perception.core.classifier import Preprocessing

ImageTransform = Callable[..., torch.Tensor]  # (RGB image, dataset index=None) -> normalised tensor
SEED_STRIDE = 1_000_003  # per-image seeds of one epoch: seed * stride + index
BatchMixer = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def progressive_strength(epoch: int, epochs: int, start: float, end: float) -> float:
    """Augmentation strength for ``epoch`` (0-based): ``start`` at the first, ``end`` at the last."""
    if epochs <= 1:
        return end
    progress = min(max(epoch / (epochs - 1), 0.0), 1.0)
    return start + (end - start) * (1.0 - math.cos(math.pi * progress)) / 2.0


def mix_probability(mix_prob: float, strength: float) -> float:
    """Share of batches that get CutMix or MixUp at augmentation ``strength``: ``mix_prob`` at full
    strength (1), proportionally less below it, so mixing ramps up with the rest of the augmentation."""
    return mix_prob * min(max(strength, 0.0), 1.0)


def augmentation(image_size: int, strength: float, seed: int | None = None) -> A.Compose:
    """An RGB uint8 -> RGB uint8 ``image_size`` square pipeline; ``strength`` 0 is almost a resize."""
    s = min(max(strength, 0.0), 1.0)
    return A.Compose(
        [
            A.RandomResizedCrop(size=(image_size, image_size), scale=(1.0 - 0.6 * s, 1.0)),
            A.HorizontalFlip(p=0.5),
            A.Affine(rotate=(-15 * s, 15 * s), translate_percent=(-0.1 * s, 0.1 * s), p=s),
            A.ColorJitter(brightness=0.4 * s, contrast=0.4 * s, saturation=0.4 * s, hue=0.05 * s, p=0.8 * s),
            A.GaussianBlur(blur_limit=(3, 5), p=0.2 * s),
            A.CoarseDropout(hole_height_range=(0.1, 0.25), hole_width_range=(0.1, 0.25), p=0.5 * s),
        ],
        seed=seed,
    )


def train_transform(preprocessing: Preprocessing, strength: float, seed: int | None = None) -> ImageTransform:
    """Augment an RGB image at ``strength`` then normalise it exactly as inference does.

    Given the image's dataset index, its random draws depend on ``(seed, index)`` alone, so the
    loading order, worker processes and a loader iterated twice (Lightning does at some epoch
    starts, not when resuming) leave an image's augmentation unchanged.
    """
    return partial(_augment, preprocessing, augmentation(preprocessing.image_size, strength, seed), seed)


def eval_transform(preprocessing: Preprocessing) -> ImageTransform:
    """The inference preprocessing alone (no augmentation)."""
    return partial(_normalise, preprocessing)


# Module-level functions (not lambdas) so DataLoader workers can pickle the transforms.
def _augment(
    preprocessing: Preprocessing,
    pipeline: A.Compose,
    seed: int | None,
    image: np.ndarray,
    index: int | None = None,
) -> torch.Tensor:
    if seed is not None and index is not None:
        pipeline.set_random_seed(seed * SEED_STRIDE + index)
    return preprocessing.to_tensor([pipeline(image=image)["image"]])[0]


def _normalise(preprocessing: Preprocessing, image: np.ndarray, index: int | None = None) -> torch.Tensor:
    return preprocessing.to_tensor([image])[0]


def batch_mixer(num_classes: int, cutmix_alpha: float, mixup_alpha: float) -> BatchMixer | None:
    """CutMix and/or MixUp (one picked per batch); None when both alphas are 0.

    The mixer returns the mixed images and soft targets (``N x num_classes`` probabilities).
    """
    choices = []
    if cutmix_alpha > 0:
        choices.append(v2.CutMix(num_classes=num_classes, alpha=cutmix_alpha))
    if mixup_alpha > 0:
        choices.append(v2.MixUp(num_classes=num_classes, alpha=mixup_alpha))
    return v2.RandomChoice(choices) if choices else None
