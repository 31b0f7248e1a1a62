"""Real photos that installed packages ship, as camera frames, and frames no camera should send.

No photo is downloaded: they come with matplotlib (sample_data), ultralytics (assets) and
scikit-image (``skimage/data``; installed with the training requirements, never imported). The
split is fixed: ``RESERVED`` photos are kept back for a later sim-to-real training run and never
evaluated on; ``EVALUATION`` photos are only ever evaluated on (docs/ood.md).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from perception_training.ood.sources import CAMERA_SIZE

PHOTOS: dict[str, tuple[str, str]] = {
    "grace_hopper": ("matplotlib", "mpl-data/sample_data/grace_hopper.jpg"),
    "bus": ("ultralytics", "assets/bus.jpg"),
    "zidane": ("ultralytics", "assets/zidane.jpg"),
    "astronaut": ("skimage", "data/astronaut.png"),
    "chelsea": ("skimage", "data/chelsea.png"),
    "coffee": ("skimage", "data/coffee.png"),
    "rocket": ("skimage", "data/rocket.jpg"),
    "motorcycle_left": ("skimage", "data/motorcycle_left.png"),
    "hubble_deep_field": ("skimage", "data/hubble_deep_field.jpg"),
}
RESERVED = ("grace_hopper",)  # for sim-to-real training later
EVALUATION = (
    "bus",
    "zidane",
    "astronaut",
    "chelsea",
    "coffee",
    "rocket",
    "motorcycle_left",
    "hubble_deep_field",
)
VIEW_SCALES = (1.0, 0.75, 0.5)  # crop side / largest 4:3 crop of the photo


def photo_path(name: str) -> Path:
    """Where the installed package keeps photo ``name`` (FileNotFoundError names the package)."""
    package, relative = PHOTOS[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"photo {name!r} comes with {package}, which is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: the installed {package} no longer ships {relative}")
    return path


def load_photo(name: str) -> np.ndarray:
    image = cv2.imread(str(photo_path(name)), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{photo_path(name)} is not a readable image")
    return image


def camera_views(photo: np.ndarray, size: tuple[int, int] = CAMERA_SIZE) -> list[np.ndarray]:
    """Camera frames of one photo, as a robot panning and zooming over it would see it: 4:3 crops
    at each of ``VIEW_SCALES`` (centre and four corners below full size), and their mirror images."""
    height, width = photo.shape[:2]
    full_w, full_h = min(width, height * 4 // 3), min(height, width * 3 // 4)
    views = []
    for scale in VIEW_SCALES:
        crop_w, crop_h = int(full_w * scale), int(full_h * scale)
        corners = [((width - crop_w) // 2, (height - crop_h) // 2)]
        if scale < 1.0:
            corners += [(x, y) for x in (0, width - crop_w) for y in (0, height - crop_h)]
        for x, y in corners:
            view = cv2.resize(photo[y : y + crop_h, x : x + crop_w], size, interpolation=cv2.INTER_AREA)
            views += [view, cv2.flip(view, 1)]
    return views


def evaluation_views() -> dict[str, list[np.ndarray]]:
    """The camera views of each evaluation photo, by photo name."""
    return {name: camera_views(load_photo(name)) for name in EVALUATION}


def evaluation_frames() -> list[np.ndarray]:
    """Every camera view of every evaluation photo."""
    return [view for views in evaluation_views().values() for view in views]


def _tiny(image: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    return cv2.resize(image, (max(1, width // 10), max(1, height // 10)), interpolation=cv2.INTER_AREA)


DEGENERATE: dict[str, Callable[[np.ndarray, np.random.Generator], np.ndarray]] = {
    "blank": lambda image, _: np.zeros_like(image),
    "grey": lambda image, _: np.full_like(image, 128),
    "noise": lambda image, rng: rng.integers(0, 256, image.shape, dtype=np.uint8),
    "tiny": lambda image, _: _tiny(image),
    "very dark": lambda image, _: (image.astype(np.float32) * 0.08).astype(np.uint8),
    "very bright": lambda image, _: (image.astype(np.float32) * 0.15 + 225.0).astype(np.uint8),
    "blurred": lambda image, _: cv2.GaussianBlur(image, (0, 0), 8.0),
}
