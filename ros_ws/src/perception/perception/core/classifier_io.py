"""What goes into a classifier and what comes out, kept free of torch: the torch classifier
(``perception.core.classifier``), its ONNX Runtime twin and the trainers share this one
preprocessing, so an artifact is always read back exactly as it was trained."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import cv2
import numpy as np

from perception.core.constants import IMAGENET_MEAN, IMAGENET_STD

if TYPE_CHECKING:
    import torch

CLASSIFIER_KIND = "classifier"  # artifact metadata ``kind`` of every image classifier


class Prediction(NamedTuple):
    """One crop's most likely class and its softmax probability."""

    class_name: str
    class_id: int
    score: float


def best_classes(probabilities: np.ndarray, classes: Sequence[str]) -> list[Prediction]:
    """The most likely class of each row of ``N x len(classes)`` probabilities."""
    ids = probabilities.argmax(axis=1)
    return [Prediction(classes[i], int(i), float(probabilities[row, i])) for row, i in enumerate(ids)]


@dataclass(frozen=True)
class Preprocessing:
    """How pixels become network input: stretch to a square, RGB, scale to [0, 1], normalise."""

    image_size: int
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    def to_metadata(self) -> dict[str, Any]:
        """JSON form stored in an artifact's ``preprocessing`` key."""
        return {**asdict(self), "color_order": "rgb", "resize": "stretch, bilinear"}

    @classmethod
    def from_metadata(cls, metadata: dict[str, Any]) -> Preprocessing:
        """Read the ``preprocessing`` entry of artifact metadata."""
        prep = metadata["preprocessing"]
        return cls(int(prep["image_size"]), tuple(prep["mean"]), tuple(prep["std"]))

    def to_array(self, images_rgb: Sequence[np.ndarray]) -> np.ndarray:
        """Stack RGB uint8 HxWx3 images into a normalised float32 ``N x 3 x S x S`` batch."""
        size = (self.image_size, self.image_size)
        resized = np.stack([cv2.resize(image, size, interpolation=cv2.INTER_LINEAR) for image in images_rgb])
        scaled = resized.astype(np.float32) / 255.0
        normalised = (scaled - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)
        return np.ascontiguousarray(normalised.transpose(0, 3, 1, 2))

    def to_tensor(self, images_rgb: Sequence[np.ndarray]) -> torch.Tensor:
        """:meth:`to_array` as a torch tensor (torch imported here, for the torch callers only)."""
        import torch

        return torch.from_numpy(self.to_array(images_rgb))
