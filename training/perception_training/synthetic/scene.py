"""What a synthetic scene is: an image plus exact ground truth for every object in it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# COCO class names; a YOLO class id is the index in this tuple.
DETECTOR_CLASSES: tuple[str, ...] = ("person", "bottle", "wine glass", "cup", "knife")


@dataclass(frozen=True)
class SceneObject:
    """One drawn object: COCO class, tight pixel box, caption colour word, extra truth."""

    class_name: str
    box: tuple[float, float, float, float]  # x_min, y_min, x_max, y_max in pixels, clipped to the image
    color: str
    attributes: dict[str, str] = field(default_factory=dict)

    @property
    def class_id(self) -> int:
        return DETECTOR_CLASSES.index(self.class_name)


@dataclass
class Scene:
    """A rendered frame (HxWx3 BGR uint8) and its objects, back to front."""

    image: np.ndarray
    objects: list[SceneObject]
    seed: int
    split: str
    index: int
    kind: str
    table_top: int = 0  # first image row of the table surface (0 when there is no table)
