"""The YOLO writer: standard layout, parseable labels that round-trip to the scene boxes."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from perception_training.synthetic import DETECTOR_CLASSES, SceneWorld, write_yolo_dataset
from perception_training.synthetic.cli import main

SIZE = (256, 192)
COUNTS = {"train": 4, "val": 2, "test": 2}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_yolo_dataset(tmp_path_factory.mktemp("yolo"), seed=5, counts=COUNTS, size=SIZE)


def test_data_yaml_names_and_split_folders(dataset: Path) -> None:
    data = yaml.safe_load(dataset.read_text())
    assert data["names"] == dict(enumerate(DETECTOR_CLASSES))
    assert Path(data["path"]) == dataset.parent
    for split, count in COUNTS.items():
        images = sorted((dataset.parent / data[split]).glob("*.jpg"))
        labels = sorted((dataset.parent / "labels" / split).glob("*.txt"))
        assert len(images) == len(labels) == count
        assert [p.stem for p in images] == [p.stem for p in labels]


def test_labels_round_trip_to_scene_boxes(dataset: Path) -> None:
    world = SceneWorld(5)
    for split, count in COUNTS.items():
        for index in range(count):
            scene = world.scene(index, split, ("mixed", "glass")[index % 2], SIZE)
            stem = f"{split}_{index:06d}"
            image = cv2.imread(str(dataset.parent / "images" / split / f"{stem}.jpg"))
            assert image.shape == scene.image.shape
            assert np.abs(image.astype(int) - scene.image.astype(int)).mean() < 8  # JPEG loss only
            rows = [
                line.split()
                for line in (dataset.parent / "labels" / split / f"{stem}.txt").read_text().splitlines()
            ]
            assert len(rows) == len(scene.objects)
            for row, obj in zip(rows, scene.objects, strict=True):
                assert len(row) == 5 and all(len(v.split(".")[1]) == 6 for v in row[1:])
                cls, cx, cy, w, h = int(row[0]), *map(float, row[1:])
                assert DETECTOR_CLASSES[cls] == obj.class_name
                assert 0 < w <= 1 and 0 < h <= 1
                box = (
                    (cx - w / 2) * SIZE[0],
                    (cy - h / 2) * SIZE[1],
                    (cx + w / 2) * SIZE[0],
                    (cy + h / 2) * SIZE[1],
                )
                assert np.allclose(box, obj.box, atol=1e-3)


def test_cli_writes_a_dataset(tmp_path: Path) -> None:
    main(
        [
            "yolo",
            "--out",
            str(tmp_path),
            "--seed",
            "1",
            "--train",
            "2",
            "--val",
            "1",
            "--test",
            "1",
            "--size",
            "128x96",
            "--kinds",
            "glass",
        ]
    )
    data = yaml.safe_load((tmp_path / "data.yaml").read_text())
    assert (data["train"], data["val"], data["test"]) == ("images/train", "images/val", "images/test")
    assert len(list((tmp_path / "labels" / "train").glob("*.txt"))) == 2
    assert cv2.imread(str(tmp_path / "images" / "val" / "val_000000.jpg")).shape == (96, 128, 3)


def test_rewriting_with_fewer_scenes_leaves_no_stale_files(tmp_path: Path) -> None:
    write_yolo_dataset(tmp_path, seed=0, counts={"train": 3}, size=(96, 64))
    (tmp_path / "labels" / "train.cache").write_text("stale")
    write_yolo_dataset(tmp_path, seed=1, counts={"train": 1}, size=(96, 64))
    assert [p.name for p in (tmp_path / "images" / "train").iterdir()] == ["train_000000.jpg"]
    assert [p.name for p in (tmp_path / "labels" / "train").iterdir()] == ["train_000000.txt"]
    assert not (tmp_path / "labels" / "train.cache").exists()


def test_a_kind_can_force_an_object_into_every_such_scene(tmp_path: Path) -> None:
    """``mixed+knife`` (how the detector trains on more knives): a knife label in every such scene,
    the other kinds drawn as usual, and the kinds recorded."""
    knife = DETECTOR_CLASSES.index("knife")
    write_yolo_dataset(tmp_path, seed=2, counts={"train": 8}, size=SIZE, kinds=("glass", "mixed+knife"))
    labels = sorted((tmp_path / "labels" / "train").glob("*.txt"))
    with_knife = [any(line.split()[0] == str(knife) for line in p.read_text().splitlines()) for p in labels]
    assert all(with_knife[1::2])
    assert not all(with_knife[0::2])
    assert json.loads((tmp_path / "synthetic.json").read_text())["kinds"] == ["glass", "mixed+knife"]


@pytest.mark.parametrize(
    ("kind", "named"),
    [("mixes+knife", "'mixes' is not one of"), ("mixed+spoon", "unknown object name 'spoon'")],
)
def test_a_bad_kind_is_refused_before_anything_is_written(tmp_path: Path, kind: str, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        write_yolo_dataset(tmp_path, seed=0, counts={"train": 1}, size=SIZE, kinds=("mixed", kind))
    assert not (tmp_path / "images").exists()
