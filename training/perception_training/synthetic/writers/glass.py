"""Glass-type classification crops as an ImageFolder tree: root/{split}/{glass_type}/*.png.

Each crop is cut from a full synthetic scene around one glass-type object, the way the
detector's box would be cut at run time (a little random padding, neighbours and background
included), so the classifier trains on what it will see behind the detector.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from perception_training.synthetic.objects import GLASS_TYPE_OBJECTS, GLASS_TYPES
from perception_training.synthetic.scene import Scene, SceneObject
from perception_training.synthetic.world import SceneWorld
from perception_training.synthetic.writers.files import fresh_dir

DEFAULT_COUNTS: Mapping[str, int] = {"train": 300, "test": 90}
CROP_SIDE = (96, 160)  # longer side of a written crop, pixels
MAX_PADDING = 0.1  # of the box size, per side


def crop_object(
    rng: np.random.Generator, scene: Scene, obj: SceneObject, side: tuple[int, int] = CROP_SIDE
) -> np.ndarray:
    """The object's box with up to 10% random padding per side, resized so its longer side is in ``side``."""
    height, width = scene.image.shape[:2]
    x0, y0, x1, y1 = obj.box
    pad = rng.uniform(0.0, MAX_PADDING, 4) * np.array([x1 - x0, y1 - y0, x1 - x0, y1 - y0])
    left, top = max(0, int(x0 - pad[0])), max(0, int(y0 - pad[1]))
    right, bottom = min(width, int(np.ceil(x1 + pad[2]))), min(height, int(np.ceil(y1 + pad[3])))
    crop = scene.image[top:bottom, left:right]
    scale = rng.integers(side[0], side[1] + 1) / max(crop.shape[:2])
    new_size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    return cv2.resize(crop, new_size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


def glass_crop(
    world: SceneWorld, split: str, index: int, glass_type: str, size: tuple[int, int]
) -> np.ndarray:
    """Crop ``index`` of ``split``: a ``glass_type`` object cut from a glass scene."""
    scene = world.scene(index, split, "glass", size, include=[GLASS_TYPE_OBJECTS[glass_type]])
    candidates = [o for o in scene.objects if o.attributes.get("glass_type") == glass_type]
    # the largest is the least occluded: painters draw nearer objects later
    target = max(candidates, key=lambda o: (o.box[2] - o.box[0]) * (o.box[3] - o.box[1]))
    return crop_object(world.rng("glass-crop", split, index), scene, target)


def write_glass_crops(
    root: str | Path,
    seed: int = 0,
    counts: Mapping[str, int] = DEFAULT_COUNTS,
    size: tuple[int, int] = (640, 480),
) -> Path:
    """Write ``counts[split]`` crops per split, classes balanced in turn; return ``root``."""
    root = Path(root).resolve()
    world = SceneWorld(seed)
    for split, count in counts.items():
        for glass_type in GLASS_TYPES:
            fresh_dir(root / split / glass_type, "*.png")
        for index in tqdm(range(count), desc=f"glass {split}", unit="crop"):
            glass_type = GLASS_TYPES[index % len(GLASS_TYPES)]
            path = root / split / glass_type / f"{split}_{index:06d}.png"
            if not cv2.imwrite(str(path), glass_crop(world, split, index, glass_type, size)):
                raise OSError(f"could not write {path}; check the disk and permissions")
    info = {
        "generator": "perception_training.synthetic",
        "format": "imagefolder",
        "seed": seed,
        "counts": dict(counts),
        "size": list(size),
        "classes": list(GLASS_TYPES),
    }
    (root / "synthetic.json").write_text(json.dumps(info, indent=2) + "\n")
    return root
