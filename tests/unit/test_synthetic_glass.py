"""Glass types in the world and the ImageFolder crop writer."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from torchvision.datasets import ImageFolder

from perception_training.synthetic import GLASS_TYPES, SceneWorld, write_glass_crops
from perception_training.synthetic.cli import main
from perception_training.synthetic.objects import GLASS_TYPE_OBJECTS
from perception_training.synthetic.writers.glass import CROP_SIDE, crop_object

SIZE = (320, 240)
COUNTS = {"train": 6, "test": 3}


@pytest.fixture(scope="module")
def crops(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_glass_crops(tmp_path_factory.mktemp("glass"), seed=2, counts=COUNTS, size=SIZE)


@pytest.mark.parametrize(
    ("glass_type", "coco"), [("cup", "cup"), ("beer_glass", "cup"), ("soju_glass", "wine glass")]
)
def test_glass_types_carry_coco_label_and_truth(glass_type: str, coco: str) -> None:
    scene = SceneWorld(0).scene(1, "train", "glass", SIZE, include=[GLASS_TYPE_OBJECTS[glass_type]])
    labels = {o.class_name for o in scene.objects if o.attributes.get("glass_type") == glass_type}
    assert labels == {coco}


def test_imagefolder_tree_is_balanced_and_loadable(crops: Path) -> None:
    for split, count in COUNTS.items():
        dataset = ImageFolder(str(crops / split))
        assert dataset.classes == sorted(GLASS_TYPES)
        assert len(dataset) == count
        assert np.bincount(dataset.targets, minlength=3).tolist() == [count // 3] * 3


def test_crops_have_detector_like_sizes_and_are_deterministic(crops: Path, tmp_path: Path) -> None:
    again = write_glass_crops(tmp_path, seed=2, counts={"test": 3}, size=SIZE)
    for path in sorted((crops / "test").rglob("*.png")):
        image = cv2.imread(str(path))
        assert CROP_SIDE[0] <= max(image.shape[:2]) <= CROP_SIDE[1]
        assert np.array_equal(image, cv2.imread(str(again / path.relative_to(crops))))


def test_crop_is_the_box_plus_at_most_ten_percent_padding() -> None:
    world = SceneWorld(0)
    for index in range(5):
        scene = world.scene(index, "train", "plain", SIZE, include=["beer_glass"])
        (obj,) = scene.objects
        bw, bh = obj.box[2] - obj.box[0], obj.box[3] - obj.box[1]
        crop = crop_object(np.random.default_rng(index), scene, obj, side=(400, 400))
        assert max(crop.shape[:2]) == 400
        aspect = crop.shape[0] / crop.shape[1]
        assert bh / (1.2 * bw + 2) <= aspect <= (1.2 * bh + 2) / bw


def test_cli_writes_glass_crops(tmp_path: Path) -> None:
    main(["glass", "--out", str(tmp_path), "--train", "3", "--test", "3", "--size", "256x192"])
    assert len(list((tmp_path / "train").rglob("*.png"))) == 3
    assert {p.parent.name for p in (tmp_path / "test").rglob("*.png")} == set(GLASS_TYPES)
