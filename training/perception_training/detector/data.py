"""What the detector trains on: the synthetic world, a YOLO data.yaml, or a COCO data set.

``--data`` takes a YOLO ``data.yaml`` (with a test split), a COCO instances JSON (split by
image into train / val / test), or a small YAML pointing to COCO files::

    coco: annotations/instances.json          # one file, split 80/10/10 by image
    images: photos/                           # optional: where file_name points (default: beside the JSON)

    coco: {train: train.json, val: val.json, test: test.json}
    images: {train: train2017/, val: val2017/, test: test2017/}

Relative paths are relative to the YAML. COCO data are converted once into the YOLO layout
ultralytics trains on, under the work folder (images linked, not copied).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from perception_training.detector.coco import (
    SPLITS,
    CocoError,
    CocoSet,
    read_coco,
    split_held_out,
    write_yolo_layout,
)
from perception_training.synthetic import write_yolo_dataset
from perception_training.synthetic.writers.yolo import DEFAULT_KINDS

YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class TrainingData:
    """The data.yaml ultralytics trains on and what the artifact records about the data."""

    data_yaml: Path
    record: dict[str, Any]


def synthetic_data(
    work_dir: Path,
    seed: int,
    counts: Mapping[str, int],
    size: tuple[int, int],
    sim2real: Sequence[str],
    kinds: Sequence[str] = DEFAULT_KINDS,
) -> TrainingData:
    """The synthetic world's YOLO data set, written under ``work_dir``."""
    custom = [kind.replace("+", "_") for kind in kinds] if tuple(kinds) != DEFAULT_KINDS else []
    folder = work_dir / ("-".join([f"dataset-seed{seed}", *sim2real, *custom]))
    record = {
        "generator": "perception_training.synthetic.write_yolo_dataset",
        "seed": seed,
        "counts": dict(counts),
        "size": list(size),
        **({"sim2real": list(sim2real)} if sim2real else {}),
        **({"kinds": list(kinds)} if custom else {}),
    }
    return TrainingData(Path(write_yolo_dataset(folder, seed, counts, size, kinds, sim2real)), record)


def user_data(path: Path, work_dir: Path) -> TrainingData:
    """A user's data set: a YOLO data.yaml as it is, COCO converted to the YOLO layout."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file; --data takes a YOLO data.yaml or a COCO JSON")
    if path.suffix == ".json":
        return _coco({"": path}, {}, path, work_dir)
    if path.suffix not in YAML_SUFFIXES:
        raise ValueError(f"{path}: --data takes a .yaml (YOLO or one pointing to COCO) or a COCO .json")
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(spec, dict):
        raise ValueError(
            f"{path}: a data YAML is a mapping (YOLO: path, train, val, test, names; or coco: ...)"
        )
    if "coco" in spec:
        return _coco(
            _paths(path, spec["coco"], "coco"), _paths(path, spec.get("images", {}), "images"), path, work_dir
        )
    if "test" not in spec:
        raise ValueError(
            f"{path}: no test split; add `test: images/test` (the trainer reports test-split metrics)"
        )
    return TrainingData(path, {"format": "yolo", "path": str(path)})


def _paths(spec_file: Path, value: Any, key: str) -> dict[str, Path]:
    """``key``'s value as {split: path} ("" = every split), relative to the YAML's folder."""
    if isinstance(value, str):
        return {"": spec_file.parent / value}
    if (
        isinstance(value, dict)
        and set(value) <= set(SPLITS)
        and all(isinstance(v, str) for v in value.values())
    ):
        return {split: spec_file.parent / v for split, v in value.items()}
    raise ValueError(
        f"{spec_file}: '{key}' must be a path or a mapping of {list(SPLITS)} to paths, got {value!r}"
    )


def _coco(
    files: Mapping[str, Path], images: Mapping[str, Path], source: Path, work_dir: Path
) -> TrainingData:
    if "" in files:
        coco = read_coco(files[""], images.get(""))
        splits, sets = split_held_out(coco), [coco]
    else:
        missing = [split for split in SPLITS if split not in files]
        if missing:
            raise ValueError(
                f"{source}: coco names no {missing} file; give train, val and test (or one file)"
            )
        sets = [read_coco(files[split], images.get(split, images.get(""))) for split in SPLITS]
        _same_categories(sets)
        splits = {split: coco.images for split, coco in zip(SPLITS, sets, strict=True)}
    data_yaml = write_yolo_layout(splits, sets[0].classes, work_dir / f"coco-{source.stem}")
    record = {
        "format": "coco",
        "source": str(source),
        "files": [str(coco.source) for coco in sets],
        "classes": sets[0].classes,
        "category_ids": sets[0].category_ids,
        "images": {split: len(images) for split, images in splits.items()},
        "boxes": {split: sum(len(image.boxes) for image in images) for split, images in splits.items()},
        "skipped": dict(Counter(s.problem for coco in sets for s in coco.skipped)),
    }
    return TrainingData(data_yaml, record)


def _same_categories(sets: Sequence[CocoSet]) -> None:
    first = sets[0]
    for coco in sets[1:]:
        if (coco.category_ids, coco.classes) != (first.category_ids, first.classes):
            raise CocoError(
                f"{coco.source}: its categories differ from {first.source}'s; every split must list the "
                f"same categories (ids {first.category_ids}: {first.classes})"
            )
