"""The mini Tiny-ImageNet writer: exact public layout, boxes and labels that match."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from torchvision.datasets import ImageFolder

from perception_training.synthetic import SceneWorld, write_tiny_imagenet
from perception_training.synthetic.cli import main
from perception_training.synthetic.writers.tiny_imagenet import CATEGORIES, object_image

N_CLASSES, TRAIN, VAL, TEST = 4, 3, 2, 2


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_imagenet(tmp_path_factory.mktemp("tiny"), 1, N_CLASSES, TRAIN, VAL, TEST)


def test_wnids_and_words(root: Path) -> None:
    wnids = (root / "wnids.txt").read_text().split()
    assert wnids == [wnid for wnid, _, _ in CATEGORIES[:N_CLASSES]]
    assert all(re.fullmatch(r"n\d{8}", w) for w in wnids)
    words = dict(line.split("\t") for line in (root / "words.txt").read_text().splitlines())
    assert set(words) == set(wnids) and all(words.values())


def test_train_tree_with_boxes(root: Path) -> None:
    for wnid in (root / "wnids.txt").read_text().split():
        images = sorted((root / "train" / wnid / "images").glob("*.JPEG"))
        assert [p.name for p in images] == sorted(f"{wnid}_{i}.JPEG" for i in range(TRAIN))
        for line in (root / "train" / wnid / f"{wnid}_boxes.txt").read_text().splitlines():
            name, *box = line.split("\t")
            x0, y0, x1, y1 = map(int, box)
            assert (root / "train" / wnid / "images" / name).is_file()
            assert 0 <= x0 < x1 <= 63 and 0 <= y0 < y1 <= 63
    assert cv2.imread(str(images[0])).shape == (64, 64, 3)
    assert len(ImageFolder(str(root / "train"))) == N_CLASSES * TRAIN


@pytest.mark.parametrize(("split", "per_class"), [("val", VAL), ("test", TEST)])
def test_flat_splits_are_balanced_and_annotated(root: Path, split: str, per_class: int) -> None:
    rows = [line.split("\t") for line in (root / split / f"{split}_annotations.txt").read_text().splitlines()]
    assert sorted(r[0] for r in rows) == sorted(f"{split}_{i}.JPEG" for i in range(N_CLASSES * per_class))
    assert all((root / split / "images" / r[0]).is_file() and len(r) == 6 for r in rows)
    wnids = [r[1] for r in rows]
    assert all(wnids.count(w) == per_class for w in set(wnids)) and len(set(wnids)) == N_CLASSES


def test_every_category_draws_a_sizeable_object_inside_the_frame() -> None:
    world = SceneWorld(0)
    for category in range(len(CATEGORIES)):
        image, (x0, y0, x1, y1) = object_image(world, category, "train", 0)
        assert image.shape == (64, 64, 3)
        assert 0 <= x0 < x1 <= 63 and 0 <= y0 < y1 <= 63
        assert (x1 - x0 + 1) * (y1 - y0 + 1) >= 0.04 * 64 * 64


def test_images_are_deterministic_and_differ_between_splits() -> None:
    a, _ = object_image(SceneWorld(3), 0, "train", 5)
    b, _ = object_image(SceneWorld(3), 0, "train", 5)
    c, _ = object_image(SceneWorld(3), 0, "val", 5)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_bad_class_count_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="n_classes must be between"):
        write_tiny_imagenet(tmp_path, n_classes=len(CATEGORIES) + 1)


def test_rewrite_removes_stale_images_and_refuses_foreign_classes(tmp_path: Path) -> None:
    write_tiny_imagenet(tmp_path, 0, 3, 2, 1, 1)
    write_tiny_imagenet(tmp_path, 0, 3, 1, 1, 1)
    wnid = CATEGORIES[0][0]
    assert [p.name for p in (tmp_path / "train" / wnid / "images").iterdir()] == [f"{wnid}_0.JPEG"]
    with pytest.raises(ValueError, match="already holds classes"):
        write_tiny_imagenet(tmp_path, 0, 2, 1, 1, 1)


def test_cli(tmp_path: Path) -> None:
    main(
        [
            "tiny-imagenet",
            "--out",
            str(tmp_path),
            "--classes",
            "2",
            "--train",
            "1",
            "--val",
            "1",
            "--test",
            "1",
        ]
    )
    assert len(list((tmp_path / "val" / "images").glob("*.JPEG"))) == 2
