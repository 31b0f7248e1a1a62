"""Torch datasets over reader samples: decode with OpenCV, hand RGB to a swappable transform."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from perception_training.classification.readers import DatasetFormatError, Sample
from perception_training.classification.transforms import ImageTransform


def read_rgb(path: object) -> np.ndarray:
    """Decode an image file to RGB uint8, or raise an error naming the unreadable file."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise DatasetFormatError(f"{path} is not a readable image; delete or re-export it")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


class SampleDataset(Dataset):
    """``(image tensor, label, index)`` per sample; ``transform`` may change between epochs."""

    def __init__(self, samples: Sequence[Sample], transform: ImageTransform) -> None:
        self.samples = list(samples)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, int]:
        sample = self.samples[index]
        return self.transform(read_rgb(sample.path), index), sample.label, index
