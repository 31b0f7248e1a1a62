"""COCO instances JSON -> YOLO layout: what loads, what is skipped and why, what cannot be read."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import yaml

from perception_training.detector.coco import CocoError, read_coco, split_held_out, write_yolo_layout
from perception_training.detector.data import user_data

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "real_photos_coco.json"


def _image(folder: Path, name: str, size: tuple[int, int] = (40, 30)) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(folder / name), np.zeros((size[1], size[0], 3), np.uint8))
    return {"file_name": name, "width": size[0], "height": size[1]}


def _coco(folder: Path, count: int = 4, **extra: list) -> dict[str, Any]:
    """``count`` 40x30 images with one cat box each; categories dog (id 7) and cat (id 3)."""
    images = [{"id": i + 1, **_image(folder, f"im{i}.png")} for i in range(count)]
    annotations = [
        {"id": i + 1, "image_id": i + 1, "category_id": 3, "bbox": [4, 5, 10, 20], "iscrowd": 0}
        for i in range(count)
    ]
    document = {
        "images": images + extra.get("images", []),
        "annotations": annotations + extra.get("annotations", []),
        "categories": [{"id": 7, "name": "dog"}, {"id": 3, "name": "cat"}],
    }
    return document


def _write(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document))
    return path


def test_reads_classes_by_category_id_and_boxes_in_pixels(tmp_path: Path) -> None:
    coco = read_coco(_write(tmp_path / "instances.json", _coco(tmp_path)))
    assert coco.classes == ["cat", "dog"] and coco.category_ids == [3, 7]
    assert len(coco.images) == 4 and coco.annotations == 4 and coco.skipped == []
    assert coco.images[0].path == tmp_path / "im0.png"
    assert coco.images[0].boxes == ((0, 4.0, 5.0, 14.0, 25.0),)


def test_broken_records_are_skipped_with_reasons_and_the_rest_loads(tmp_path: Path) -> None:
    document = _coco(
        tmp_path,
        images=[
            {"id": 10, "file_name": "gone.png", "width": 40, "height": 30},
            {"id": 11, **_image(tmp_path, "small.png", (20, 10)), "width": 40},
        ],
        annotations=[
            {"id": 20, "image_id": 1, "category_id": 99, "bbox": [1, 1, 5, 5]},
            {"id": 21, "image_id": 2, "category_id": 7, "bbox": [30, 20, 20, 5]},
            {"id": 22, "image_id": 10, "category_id": 7, "bbox": [1, 1, 5, 5]},
            {"id": 23, "image_id": 55, "category_id": 7, "bbox": [1, 1, 5, 5]},
            {"id": 24, "image_id": 3, "category_id": 7, "bbox": [0, 0, 0, 5]},
            {"id": 25, "image_id": 3, "category_id": 7, "bbox": [-0.5, 0, 40.5, 30], "iscrowd": 0},
            {"id": 26, "image_id": 4, "category_id": 7, "bbox": [1, 1, 5, 5], "iscrowd": 1},
        ],
    )
    path = _write(tmp_path / "instances.json", document)
    coco = read_coco(path)
    assert len(coco.images) == 4
    assert coco.skipped_counts() == {
        "image missing": 3,
        "image size differs": 1,
        "unknown category id": 1,
        "box outside the image": 1,
        "empty box": 1,
        "crowd region": 1,
    }
    reasons = {s.problem: str(s) for s in coco.skipped}
    assert reasons["unknown category id"].startswith(f"{path}: annotation 20 (image 1)")
    assert "99" in reasons["unknown category id"]
    assert "[30, 20, 20, 5] in a 40x30 image" in reasons["box outside the image"]
    assert str(tmp_path / "gone.png") in str(next(s for s in coco.skipped if s.record.startswith("image 10")))
    # a sub-pixel overshoot is clipped, not skipped
    assert (1, 0.0, 0.0, 40.0, 30.0) in next(im for im in coco.images if im.image_id == 3).boxes


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ('{"images": [', "not valid JSON (Expecting value at line 1, column 13)"),
        ("[1, 2]", "a COCO file is a JSON object, this one is a list"),
        ('{"images": []}', "not a COCO instances file: no annotations, categories list"),
        ('{"images": [], "annotations": [], "categories": []}', "no categories"),
        (
            '{"images": [], "annotations": [], "categories": [{"id": 1}]}',
            "needs an integer 'id' and a 'name'",
        ),
    ],
)
def test_unreadable_files_raise_naming_the_file(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "instances.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(CocoError, match=r"instances\.json") as raised:
        read_coco(path)
    assert message in str(raised.value)


def test_a_file_without_a_usable_image_raises(tmp_path: Path) -> None:
    document = {
        "images": [{"id": 1, "file_name": "gone.png", "width": 4, "height": 4}],
        "annotations": [],
        "categories": [{"id": 1, "name": "cup"}],
    }
    with pytest.raises(CocoError, match=r"no usable image.*image missing"):
        read_coco(_write(tmp_path / "instances.json", document))


def test_held_out_split_is_by_file_name_not_file_order(tmp_path: Path) -> None:
    document = _coco(tmp_path, count=20)
    first = split_held_out(read_coco(_write(tmp_path / "a.json", document)))
    document["images"].reverse()
    second = split_held_out(read_coco(_write(tmp_path / "b.json", document)))
    assert {k: len(v) for k, v in first.items()} == {"test": 2, "val": 2, "train": 16}
    assert {k: [im.path for im in v] for k, v in first.items()} == {
        k: [im.path for im in v] for k, v in second.items()
    }
    with pytest.raises(CocoError, match="2 usable images cannot make train, val and test"):
        split_held_out(read_coco(_write(tmp_path / "c.json", _coco(tmp_path, count=2))))


def test_yolo_layout_links_images_and_writes_normalised_labels(tmp_path: Path) -> None:
    coco = read_coco(_write(tmp_path / "instances.json", _coco(tmp_path)))
    data_yaml = write_yolo_layout(
        {"train": coco.images[:3], "val": coco.images[3:]}, coco.classes, tmp_path / "yolo"
    )
    data = yaml.safe_load(data_yaml.read_text())
    assert data["names"] == {0: "cat", 1: "dog"} and data["train"] == "images/train"
    linked = tmp_path / "yolo" / "images" / "train" / "1_im0.png"
    assert linked.resolve() == (tmp_path / "im0.png").resolve()
    label = (tmp_path / "yolo" / "labels" / "train" / "1_im0.txt").read_text()
    assert label == "0 0.225000 0.500000 0.250000 0.666667\n"


def test_data_yaml_pointing_to_coco_files_per_split(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    for split in ("train", "val", "test"):
        _write(tmp_path / f"{split}.json", _coco(photos, count=2))
    spec = {"coco": {s: f"{s}.json" for s in ("train", "val", "test")}, "images": "photos"}
    (tmp_path / "my.yaml").write_text(yaml.safe_dump(spec))
    data = user_data(tmp_path / "my.yaml", tmp_path / "work")
    assert data.record["format"] == "coco" and data.record["classes"] == ["cat", "dog"]
    assert data.record["images"] == {"train": 2, "val": 2, "test": 2}
    assert data.data_yaml == tmp_path / "work" / "coco-my" / "data.yaml"
    assert len(list((tmp_path / "work" / "coco-my" / "labels" / "test").glob("*.txt"))) == 2


def test_splits_with_different_categories_are_refused(tmp_path: Path) -> None:
    for split in ("train", "val", "test"):
        document = _coco(tmp_path, count=2)
        if split == "test":
            document["categories"][0]["name"] = "wolf"
        _write(tmp_path / f"{split}.json", document)
    (tmp_path / "my.yaml").write_text(
        yaml.safe_dump({"coco": {s: f"{s}.json" for s in ("train", "val", "test")}})
    )
    with pytest.raises(CocoError, match=r"test\.json: its categories differ"):
        user_data(tmp_path / "my.yaml", tmp_path / "work")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("data.yaml", "path: x\ntrain: images/train\nval: images/val\n", "no test split"),
        ("data.yaml", "- a\n", "a data YAML is a mapping"),
        ("data.yaml", "coco: {train: a.json, extra: b.json}\n", "'coco' must be a path or a mapping"),
        ("data.yaml", "coco: {train: a.json}\n", "coco names no ['val', 'test'] file"),
        ("data.txt", "", "--data takes a .yaml"),
    ],
)
def test_bad_data_arguments_say_what_to_give(tmp_path: Path, name: str, content: str, message: str) -> None:
    (tmp_path / name).write_text(content)
    with pytest.raises(ValueError, match="data") as raised:
        user_data(tmp_path / name, tmp_path / "work")
    assert message in str(raised.value)
    with pytest.raises(FileNotFoundError, match=r"absent\.json: no such file"):
        user_data(tmp_path / "absent.json", tmp_path / "work")


def real_photo_set(folder: Path) -> Path:
    """The hand-labelled fixture beside copies of its photos from the installed packages."""
    from perception_training.ood.real_photos import photo_path

    folder.mkdir(parents=True, exist_ok=True)
    document = json.loads(FIXTURE.read_text())
    for image in document["images"]:
        try:
            source = photo_path(Path(image["file_name"]).stem)
        except FileNotFoundError as error:
            pytest.skip(f"packaged photo not installed: {error}")
        shutil.copy(source, folder / image["file_name"])
    return _write(folder / "instances.json", document)


def test_hand_labelled_real_photos_load_completely(tmp_path: Path) -> None:
    coco = read_coco(real_photo_set(tmp_path))
    assert coco.classes == ["person", "motorcycle", "bus", "cat", "tie", "bottle", "cup", "spoon"]
    assert coco.skipped == [] and len(coco.images) == 9 and coco.annotations == 17
    assert {k: len(v) for k, v in split_held_out(coco).items()} == {"test": 1, "val": 1, "train": 7}
