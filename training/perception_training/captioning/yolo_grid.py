"""Object boxes of a YOLO dataset as per-grid-cell class targets for encoder pretraining.

A captions file says that a knife is in the picture, not where: a from-scratch encoder learns
thin objects slowly from that alone. Boxes say where, so every cell of the encoder's output grid
gets its own "which classes are here" target, which teaches small objects many times faster.
Ultralytics reads YOLO datasets for training detectors; it has no reader that returns boxes
without its training pipeline, so this module reads the (simple) format itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


class YoloDatasetError(ValueError):
    """A data.yaml or label file that does not follow the YOLO format."""


@dataclass(frozen=True)
class YoloSplit:
    """Image files of one split and their boxes: (class id, cx, cy, w, h) rows, normalised."""

    images: list[Path]
    boxes: list[np.ndarray]


@dataclass(frozen=True)
class YoloDataset:
    classes: list[str]
    splits: dict[str, YoloSplit]


def read_yolo_dataset(data_yaml: str | Path, splits: tuple[str, ...] = ("train", "val")) -> YoloDataset:
    """Read ``data.yaml`` (``path``, split folders, ``names``) and every label file of ``splits``."""
    data_yaml = Path(data_yaml)
    if not data_yaml.is_file():
        raise FileNotFoundError(f"{data_yaml} does not exist; write one with perception-synthetic yolo")
    spec = yaml.safe_load(data_yaml.read_text(encoding="utf-8"))
    if not isinstance(spec, dict) or "names" not in spec:
        raise YoloDatasetError(f"{data_yaml}: expected a mapping with 'names' and split folders")
    names = spec["names"]
    classes = [names[key] for key in sorted(names)] if isinstance(names, dict) else list(names)
    root = Path(spec.get("path") or data_yaml.parent)
    root = root if root.is_absolute() else data_yaml.parent / root
    result = {}
    for split in splits:
        if split not in spec:
            raise YoloDatasetError(f"{data_yaml}: no '{split}' folder listed")
        image_dir = root / spec[split]
        images = sorted(p for p in image_dir.glob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            raise YoloDatasetError(f"{data_yaml}: no images in {image_dir} ({split})")
        result[split] = YoloSplit(images, [read_labels(_label_path(image), len(classes)) for image in images])
    return YoloDataset(classes, result)


def read_labels(path: Path, class_count: int) -> np.ndarray:
    """Rows ``class cx cy w h`` of one label file (missing file = no objects)."""
    if not path.is_file():
        return np.zeros((0, 5), dtype=np.float32)
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split()
        try:
            values = [float(field) for field in fields]
        except ValueError:
            values = []
        if len(values) != 5 or not values[0].is_integer() or not 0 <= values[0] < class_count:
            raise YoloDatasetError(
                f"{path}:{number}: expected 'class cx cy w h' with a class id in 0..{class_count - 1}, "
                f"got {line.strip()!r}"
            )
        if not all(0.0 <= value <= 1.0 for value in values[1:]):
            raise YoloDatasetError(
                f"{path}:{number}: box values must be normalised to 0..1, got {line.strip()!r}"
            )
        rows.append(values)
    return np.array(rows, dtype=np.float32).reshape(-1, 5)


def grid_targets(boxes: np.ndarray, class_count: int, grid: tuple[int, int]) -> np.ndarray:
    """(rows * cols, classes) multi-hot: a cell holds a class when one of its boxes overlaps it."""
    rows, cols = grid
    targets = np.zeros((rows, cols, class_count), dtype=np.float32)
    for class_id, cx, cy, width, height in boxes:
        x0, x1 = _cells(cx - width / 2, cx + width / 2, cols)
        y0, y1 = _cells(cy - height / 2, cy + height / 2, rows)
        targets[y0 : y1 + 1, x0 : x1 + 1, int(class_id)] = 1.0
    return targets.reshape(rows * cols, class_count)


def _cells(low: float, high: float, count: int) -> tuple[int, int]:
    first = min(count - 1, max(0, int(low * count)))
    return first, min(count - 1, max(first, int(np.ceil(high * count)) - 1))


def _label_path(image: Path) -> Path:
    """YOLO convention: .../images/<split>/x.jpg -> .../labels/<split>/x.txt."""
    parts = list(image.parts)
    index = len(parts) - 1 - parts[::-1].index("images") if "images" in parts else None
    if index is None:
        return image.with_suffix(".txt")
    parts[index] = "labels"
    return Path(*parts).with_suffix(".txt")
