"""Ultralytics/YOLO detection dataset: data.yaml, images/{split}/, labels/{split}/."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import cv2
import yaml
from tqdm import tqdm

from perception_training.synthetic.scene import DETECTOR_CLASSES, Scene
from perception_training.synthetic.world import KINDS, SceneWorld, resolve_types
from perception_training.synthetic.writers.files import fresh_dir

DEFAULT_COUNTS: Mapping[str, int] = {"train": 600, "val": 100, "test": 100}
JPEG_QUALITY = 95
DEFAULT_KINDS: tuple[str, ...] = ("mixed", "glass")  # scene kinds used in turn; data sets record others


def label_line(class_id: int, box: Sequence[float], width: int, height: int) -> str:
    """A ``class cx cy w h`` label line (normalised, 6 decimals) for a pixel box (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = box
    return (
        f"{class_id} {(x0 + x1) / 2 / width:.6f} {(y0 + y1) / 2 / height:.6f} "
        f"{(x1 - x0) / width:.6f} {(y1 - y0) / height:.6f}"
    )


def yolo_label_lines(scene: Scene) -> list[str]:
    """One label line per object of ``scene``."""
    height, width = scene.image.shape[:2]
    return [label_line(obj.class_id, obj.box, width, height) for obj in scene.objects]


def scene_spec(spec: str) -> tuple[str, tuple[str, ...]]:
    """``"mixed+knife"`` -> ("mixed", ("knife",)): a scene kind and the objects every such scene
    includes (COCO classes or object types), so a data set can hold more of a hard class."""
    kind, *include = spec.split("+")
    if kind not in KINDS:
        raise ValueError(f"scene kind {spec!r}: {kind!r} is not one of {KINDS} (e.g. 'mixed', 'mixed+knife')")
    resolve_types(include)  # unknown names stop here, before any image is written
    return kind, tuple(include)


def write_data_yaml(root: Path, splits: Iterable[str], names: Sequence[str]) -> Path:
    """``root/data.yaml`` naming ``images/{split}`` for each split and the class names; return it."""
    data = {
        "path": str(root),
        **{split: f"images/{split}" for split in splits},
        "names": dict(enumerate(names)),
    }
    data_yaml = root / "data.yaml"
    data_yaml.write_text(yaml.safe_dump(data, sort_keys=False))
    return data_yaml


def write_yolo_dataset(
    root: str | Path,
    seed: int = 0,
    counts: Mapping[str, int] = DEFAULT_COUNTS,
    size: tuple[int, int] = (640, 480),
    kinds: Sequence[str] = DEFAULT_KINDS,
    sim2real: Sequence[str] = (),
) -> Path:
    """Write a YOLO dataset of synthetic scenes under ``root``; return the data.yaml path.

    Scene i of a split uses kind ``kinds[i % len(kinds)]``; a kind may name objects every such
    scene includes (``"mixed+knife"``, :func:`scene_spec`). A ``synthetic.json`` beside
    data.yaml records the generator settings so trained artifacts can cite their data
    (``sim2real`` only when options are on, so data sets without them are unchanged).
    """
    root = Path(root).resolve()
    if not kinds:
        raise ValueError("kinds must name at least one scene kind, e.g. ('mixed', 'glass')")
    specs = [scene_spec(kind) for kind in kinds]
    world = SceneWorld(seed, sim2real)
    for split, count in counts.items():
        image_dir = fresh_dir(root / "images" / split, "*.jpg")
        label_dir = fresh_dir(root / "labels" / split, "*.txt")
        (root / "labels" / f"{split}.cache").unlink(missing_ok=True)  # ultralytics' label cache
        for index in tqdm(range(count), desc=f"yolo {split}", unit="img"):
            kind, include = specs[index % len(specs)]
            scene = world.scene(index, split, kind, size, include=include)
            stem = f"{split}_{index:06d}"
            if not cv2.imwrite(
                str(image_dir / f"{stem}.jpg"), scene.image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
            ):
                raise OSError(f"could not write {image_dir / stem}.jpg; check the disk and permissions")
            (label_dir / f"{stem}.txt").write_text("".join(f"{line}\n" for line in yolo_label_lines(scene)))
    data_yaml = write_data_yaml(root, counts, DETECTOR_CLASSES)
    info = {
        "generator": "perception_training.synthetic",
        "format": "yolo",
        "seed": seed,
        "counts": dict(counts),
        "size": list(size),
        "kinds": list(kinds),
        **({"sim2real": list(world.sim2real)} if world.sim2real else {}),
    }
    (root / "synthetic.json").write_text(json.dumps(info, indent=2) + "\n")
    return data_yaml
