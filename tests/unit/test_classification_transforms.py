"""Augmentation: the cosine strength ramp, pipelines by strength, CutMix/MixUp soft targets and
how often they apply."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from perception.core.classifier import Preprocessing
from perception_training.classification.transforms import (
    augmentation,
    batch_mixer,
    eval_transform,
    mix_probability,
    progressive_strength,
    train_transform,
)


def test_strength_rises_on_a_cosine_from_start_to_end() -> None:
    values = [progressive_strength(epoch, 11, 0.2, 1.0) for epoch in range(11)]
    assert values[0] == pytest.approx(0.2) and values[-1] == pytest.approx(1.0)
    assert values[5] == pytest.approx(0.6)  # half way on a cosine is the mean
    assert all(a < b for a, b in itertools.pairwise(values))
    assert values[1] - values[0] < values[5] - values[4]  # slow start, fastest in the middle
    assert progressive_strength(0, 1, 0.2, 1.0) == 1.0


def test_zero_strength_changes_little_and_full_strength_a_lot() -> None:
    # smooth and left-right symmetric, so flips and small crops alone change little
    rows, cols = np.mgrid[0:40, 0:50]
    shade = 120 + 60 * np.cos((cols - 24.5) / 16) + 40 * rows / 40
    image = np.stack([shade, shade * 0.8, 255 - shade], axis=2).astype(np.uint8)
    resized = eval_transform(Preprocessing(32))(image)

    def mean_change(strength: float) -> float:
        pipeline = train_transform(Preprocessing(32), strength, seed=1)
        return float(np.mean([(pipeline(image) - resized).abs().mean() for _ in range(10)]))

    assert resized.shape == (3, 32, 32)
    assert mean_change(0.0) < mean_change(1.0) / 2
    assert augmentation(32, 1.0, seed=3)(image=image)["image"].shape == (32, 32, 3)


def test_batch_mixer_gives_soft_targets_or_none() -> None:
    assert batch_mixer(3, 0.0, 0.0) is None
    torch.manual_seed(0)
    images, labels = torch.rand(6, 3, 16, 16), torch.tensor([0, 1, 2, 0, 1, 2])
    mixed, targets = batch_mixer(3, 1.0, 0.2)(images, labels)
    assert mixed.shape == images.shape and targets.shape == (6, 3)
    assert torch.allclose(targets.sum(dim=1), torch.ones(6))
    assert (targets.max(dim=1).values < 1).any()  # labels really were mixed


def test_the_share_of_mixed_batches_follows_the_augmentation_strength() -> None:
    assert mix_probability(0.5, 1.0) == 0.5  # --mix-prob is the share at full strength
    assert mix_probability(0.5, 0.2) == pytest.approx(0.1)
    assert mix_probability(0.5, 0.0) == 0.0 and mix_probability(0.5, 1.5) == 0.5
