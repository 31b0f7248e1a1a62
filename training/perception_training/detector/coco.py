"""COCO instances JSON -> the YOLO layout ultralytics trains on (``images/``, ``labels/``, data.yaml).

Real data sets have broken records. A file that cannot be read at all (missing, not JSON, not
a COCO instances file) raises :class:`CocoError` naming it; a broken record (an annotation with
an unknown category id, a box outside its image, an image entry whose file is missing) is
skipped with a reason naming the file and the record, and the rest loads. The reader counts
what it skipped by problem, and the trainer records the counts in the artifact.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import zlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from perception_training.synthetic.writers.files import fresh_dir
from perception_training.synthetic.writers.yolo import label_line, write_data_yaml

LOG = logging.getLogger(__name__)

BOX_TOLERANCE = 1.0  # pixels a box may overshoot its image (rounding in exports); clipped
HELD_OUT_FRACTION = 0.1  # of one JSON's images, for each of val and test
SPLITS = ("train", "val", "test")
Box = tuple[int, float, float, float, float]  # class index, x0, y0, x1, y1 in pixels


class CocoError(ValueError):
    """A COCO file cannot be used at all; the message names the file and what is wrong."""


@dataclass(frozen=True)
class Skipped:
    """A record left out: in which file, which record, the problem (a short key) and the details."""

    source: Path
    record: str
    problem: str
    detail: str

    def __str__(self) -> str:
        return f"{self.source}: {self.record}: {self.problem} ({self.detail})"


@dataclass(frozen=True)
class CocoImage:
    """A usable image: its COCO id, file, size and boxes."""

    image_id: int
    path: Path
    width: int
    height: int
    boxes: tuple[Box, ...]


@dataclass
class CocoSet:
    """What one COCO file gave: class names (sorted by category id), usable images, what was skipped."""

    source: Path
    category_ids: list[int]
    classes: list[str]
    images: list[CocoImage]
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def annotations(self) -> int:
        return sum(len(image.boxes) for image in self.images)

    def skipped_counts(self) -> dict[str, int]:
        """Skipped records by problem, most frequent first."""
        return dict(Counter(s.problem for s in self.skipped).most_common())


def read_coco(path: str | Path, images_dir: str | Path | None = None) -> CocoSet:
    """Read a COCO instances file; ``file_name`` is relative to ``images_dir`` (default: its folder)."""
    path = Path(path)
    document = _load_json(path)
    images_dir = Path(images_dir) if images_dir is not None else path.parent
    category_ids, classes = _categories(path, document["categories"])
    index = {cid: i for i, cid in enumerate(category_ids)}
    skipped: list[Skipped] = []
    images: dict[int, dict[str, Any]] = {}
    for number, entry in enumerate(document["images"]):
        image = _image(path, number, entry, images_dir, images)
        if isinstance(image, Skipped):
            skipped.append(image)
        else:
            images[image["id"]] = image
    boxes: dict[int, list[Box]] = {image_id: [] for image_id in images}
    for number, annotation in enumerate(document["annotations"]):
        box = _box(path, number, annotation, images, index)
        if isinstance(box, Skipped):
            skipped.append(box)
        else:
            boxes[annotation["image_id"]].append(box)
    usable = [
        CocoImage(image_id, image["path"], image["width"], image["height"], tuple(boxes[image_id]))
        for image_id, image in images.items()
    ]
    if not usable:
        first = "; ".join(str(s) for s in skipped[:3])
        raise CocoError(f"{path}: no usable image ({len(skipped)} records skipped: {first})")
    coco = CocoSet(path, category_ids, classes, usable, skipped)
    LOG.info(
        "%s: %d images, %d boxes, %d classes; skipped %s",
        path,
        len(usable),
        coco.annotations,
        len(classes),
        coco.skipped_counts() or "nothing",
    )
    for problem in skipped[:10]:
        LOG.warning("skipped %s", problem)
    return coco


def split_held_out(coco: CocoSet, fraction: float = HELD_OUT_FRACTION) -> dict[str, list[CocoImage]]:
    """Train / val / test from one file: ``fraction`` of the images each for val and test (at least
    one), chosen by a hash of the file name, so the split does not depend on the file's order."""
    if len(coco.images) < 3:
        raise CocoError(
            f"{coco.source}: {len(coco.images)} usable images cannot make train, val and test splits; "
            "give separate files for them in a YAML (see docs/real-robot.md)"
        )
    ordered = sorted(coco.images, key=lambda image: (zlib.crc32(image.path.name.encode()), image.image_id))
    held = max(1, round(len(ordered) * fraction))
    return {"test": ordered[:held], "val": ordered[held : 2 * held], "train": ordered[2 * held :]}


def write_yolo_layout(splits: Mapping[str, Sequence[CocoImage]], classes: Sequence[str], root: Path) -> Path:
    """Link each split's images into ``root/images/{split}``, write their labels; return data.yaml."""
    root = root.resolve()
    for split, images in splits.items():
        image_dir = fresh_dir(root / "images" / split, "*")
        label_dir = fresh_dir(root / "labels" / split, "*.txt")
        (root / "labels" / f"{split}.cache").unlink(missing_ok=True)  # ultralytics' label cache
        for image in images:
            name = f"{image.image_id}_{image.path.name}"  # ids keep same-named files apart
            _link(image.path, image_dir / name)
            lines = [label_line(c, box, image.width, image.height) for c, *box in image.boxes]
            (label_dir / f"{Path(name).stem}.txt").write_text("".join(f"{line}\n" for line in lines))
    return write_data_yaml(root, splits, classes)


def _link(source: Path, target: Path) -> None:
    """A symlink where the file system allows one (no copy of a large data set), else a copy."""
    target.unlink(missing_ok=True)  # a link left by an earlier run whose file has gone
    try:
        os.symlink(source.resolve(), target)
    except OSError:
        shutil.copy2(source, target)


def _load_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise CocoError(f"{path}: no such file; give the COCO instances JSON (e.g. instances_train.json)")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise CocoError(
            f"{path}: not valid JSON ({error.msg} at line {error.lineno}, column {error.colno})"
        ) from error
    except UnicodeDecodeError as error:
        raise CocoError(f"{path}: not UTF-8 text ({error.reason}); is it a JSON file?") from error
    if not isinstance(document, dict):
        raise CocoError(f"{path}: a COCO file is a JSON object, this one is a {type(document).__name__}")
    missing = [
        key for key in ("images", "annotations", "categories") if not isinstance(document.get(key), list)
    ]
    if missing:
        raise CocoError(f"{path}: not a COCO instances file: no {', '.join(missing)} list")
    return document


def _categories(path: Path, entries: list[Any]) -> tuple[list[int], list[str]]:
    names: dict[int, str] = {}
    for number, entry in enumerate(entries):
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("id"), int)
            and isinstance(entry.get("name"), str)
        ):
            raise CocoError(f"{path}: category {number} needs an integer 'id' and a 'name', got {entry!r}")
        if entry["id"] in names:
            raise CocoError(f"{path}: category id {entry['id']} is listed twice")
        names[entry["id"]] = entry["name"]
    if not names:
        raise CocoError(f"{path}: no categories; a detector needs at least one class")
    repeated = [name for name, count in Counter(names.values()).items() if count > 1]
    if repeated:
        raise CocoError(f"{path}: category names {repeated} are used by more than one id")
    ids = sorted(names)
    return ids, [names[cid] for cid in ids]


def _image(
    path: Path, number: int, entry: Any, images_dir: Path, seen: Mapping[int, Any]
) -> dict[str, Any] | Skipped:
    record = f"image {number}"
    if not (
        isinstance(entry, dict)
        and isinstance(entry.get("id"), int)
        and isinstance(entry.get("file_name"), str)
        and all(isinstance(entry.get(key), int) and entry[key] > 0 for key in ("width", "height"))
    ):
        return Skipped(
            path, record, "malformed image entry", f"needs id, file_name, width, height: {entry!r}"
        )
    record = f"image {entry['id']} ({entry['file_name']})"
    if entry["id"] in seen:
        return Skipped(path, record, "duplicate image id", "the first entry with this id is used")
    file = images_dir / entry["file_name"]
    try:
        with Image.open(file) as image:
            size = image.size
    except FileNotFoundError:
        return Skipped(path, record, "image missing", f"no file {file}; its annotations are skipped too")
    except (UnidentifiedImageError, OSError) as error:
        return Skipped(path, record, "image unreadable", f"{file}: {error}")
    if size != (entry["width"], entry["height"]):
        return Skipped(
            path,
            record,
            "image size differs",
            f"the file is {size[0]}x{size[1]}, the entry says "
            f"{entry['width']}x{entry['height']}; boxes would land in the wrong place",
        )
    return {"id": entry["id"], "path": file, "width": size[0], "height": size[1]}


def _box(
    path: Path,
    number: int,
    annotation: Any,
    images: Mapping[int, Mapping[str, Any]],
    index: Mapping[int, int],
) -> Box | Skipped:
    bbox = annotation.get("bbox") if isinstance(annotation, dict) else None
    if not (
        isinstance(bbox, list)
        and len(bbox) == 4
        and all(isinstance(v, (int, float)) for v in bbox)
        and isinstance(annotation.get("image_id"), int)
    ):
        return Skipped(
            path,
            f"annotation {number}",
            "malformed annotation",
            f"needs image_id and bbox [x, y, w, h]: {annotation!r}",
        )
    record = f"annotation {annotation.get('id', number)} (image {annotation['image_id']})"
    image = images.get(annotation["image_id"])
    if image is None:
        return Skipped(path, record, "image missing", "its image is not listed or was skipped")
    category = annotation.get("category_id")
    if category not in index:
        return Skipped(path, record, "unknown category id", f"{category!r} is not among {sorted(index)}")
    if annotation.get("iscrowd"):
        return Skipped(path, record, "crowd region", "iscrowd regions are not single objects")
    x, y, w, h = (float(v) for v in bbox)
    if w <= 0 or h <= 0:
        return Skipped(path, record, "empty box", f"width {w}, height {h}")
    width, height = image["width"], image["height"]
    if (
        x < -BOX_TOLERANCE
        or y < -BOX_TOLERANCE
        or x + w > width + BOX_TOLERANCE
        or y + h > height + BOX_TOLERANCE
    ):
        return Skipped(
            path, record, "box outside the image", f"[{x:g}, {y:g}, {w:g}, {h:g}] in a {width}x{height} image"
        )
    x0, y0 = max(x, 0.0), max(y, 0.0)
    return index[category], x0, y0, min(x + w, width), min(y + h, height)
