"""In-domain images of each model family, regenerated from the synthetic world.

The training images come back exactly as the trainers' writers drew them (same seed, split,
kind, size, and JPEG round trip where the writer stored JPEG); held-out images come from a
split no writer uses, so no model ever saw them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import cv2
import numpy as np

from perception_training.synthetic import GLASS_TYPES, KINDS, SceneWorld
from perception_training.synthetic.writers.glass import glass_crop
from perception_training.synthetic.writers.yolo import JPEG_QUALITY

CAMERA_SIZE = (640, 480)  # the frames the nodes see (bags, the demo)
CALIBRATION_SPLIT = "ood-calibration"  # a split no writer or trainer uses
DETECTOR_TRAINING_KINDS = ("mixed", "glass")  # write_yolo_dataset's default, which the trainer uses


def jpeg_round_trip(image: np.ndarray, quality: int = JPEG_QUALITY) -> np.ndarray:
    """The image as a writer stored it and a trainer read it back."""
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"could not JPEG-encode an image of shape {image.shape}")
    return cv2.imdecode(encoded, cv2.IMREAD_COLOR)


def training_images(metadata: Mapping[str, Any], count: int) -> Iterator[np.ndarray]:
    """Up to ``count`` of the images the artifact described by ``metadata`` was trained on."""
    dataset = metadata["dataset"]
    world = SceneWorld(int(dataset["seed"]))
    size = tuple(dataset["size"])
    available = int(dataset["counts"]["train"])
    kind = metadata["kind"]
    for index in range(min(count, available)):
        if kind == "detector":
            scene_kind = DETECTOR_TRAINING_KINDS[index % len(DETECTOR_TRAINING_KINDS)]
            yield jpeg_round_trip(world.scene(index, "train", scene_kind, size).image)
        elif kind == "classifier":
            _require_glass(dataset)
            yield glass_crop(world, "train", index, GLASS_TYPES[index % len(GLASS_TYPES)], size)
        elif kind == "captioner":
            yield jpeg_round_trip(world.scene(index, "train", dataset.get("kind", "caption"), size).image)
        else:
            raise ValueError(f"no training images for a {kind!r} artifact")


def held_out_images(kind: str, seed: int, split: str, count: int) -> Iterator[np.ndarray]:
    """``count`` camera-size images of ``split`` the model would meet in the synthetic world:
    scenes of every kind in turn (glass crops for a classifier)."""
    world = SceneWorld(seed)
    for index in range(count):
        if kind == "classifier":
            yield glass_crop(world, split, index, GLASS_TYPES[index % len(GLASS_TYPES)], CAMERA_SIZE)
        else:
            yield world.scene(index, split, KINDS[index % len(KINDS)], CAMERA_SIZE).image


def _require_glass(dataset: Mapping[str, Any]) -> None:
    if tuple(dataset.get("classes", ())) != GLASS_TYPES:
        raise ValueError(
            f"only the glass classifier's training crops can be regenerated (classes {list(GLASS_TYPES)}), "
            f"not {dataset.get('classes')}"
        )
