"""A contact sheet of sample scenes with their ground-truth boxes, for docs and eyeballing."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from perception_training.synthetic.scene import Scene
from perception_training.synthetic.world import SceneWorld

_BOX_COLORS = {
    "person": (60, 60, 255),
    "bottle": (0, 200, 0),
    "wine glass": (255, 160, 0),
    "cup": (0, 220, 255),
    "knife": (255, 0, 255),
}


def annotate(scene: Scene) -> np.ndarray:
    """A copy of the scene image with each object's box and label drawn on it."""
    image = scene.image.copy()
    for obj in scene.objects:
        x0, y0, x1, y1 = (int(v) for v in obj.box)
        color = _BOX_COLORS.get(obj.class_name, (255, 255, 255))
        cv2.rectangle(image, (x0, y0), (x1 - 1, y1 - 1), color, 2)
        label = obj.attributes.get("glass_type", obj.class_name)
        cv2.putText(
            image, label, (x0 + 2, max(12, y0 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, color, 1, cv2.LINE_AA
        )
    return image


def write_contact_sheet(
    path: str | Path,
    seed: int = 0,
    columns: int = 4,
    rows: int = 3,
    size: tuple[int, int] = (320, 240),
    sim2real: Sequence[str] = (),
) -> Path:
    """Write a grid of annotated scenes (mixed, glass and caption kinds in turn) as a PNG."""
    world = SceneWorld(seed, sim2real)
    kinds = ("mixed", "glass", "caption")
    tiles = [annotate(world.scene(i, "train", kinds[i % len(kinds)], size)) for i in range(columns * rows)]
    sheet = np.vstack([np.hstack(tiles[r * columns : (r + 1) * columns]) for r in range(rows)])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), sheet):
        raise OSError(f"could not write {path}; check the folder and the .png extension")
    return path
