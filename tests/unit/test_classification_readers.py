"""Dataset readers: ImageFolder (seeded 9:1 split) and Tiny-ImageNet-200, including broken files."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from perception_training.classification.readers import (
    UNLABELLED,
    DatasetFormatError,
    read_dataset,
    read_image_folder,
    read_tiny_imagenet,
)
from perception_training.synthetic.writers.tiny_imagenet import write_tiny_imagenet

WNIDS = ("n001", "n002", "n003")


def _png(path: Path, value: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((8, 10, 3), value, np.uint8))
    return path


def _folder(root: Path, counts: dict[str, int], split: str | None = "train") -> Path:
    base = root / split if split else root
    for name, count in counts.items():
        for i in range(count):
            _png(base / name / f"{i:03d}.png", i)
    return root


def _tiny(root: Path, val_lines: list[str] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "wnids.txt").write_text("\n".join(WNIDS) + "\n")
    (root / "words.txt").write_text("".join(f"{w}\tthing {w}, other name\n" for w in WNIDS))
    for wnid in WNIDS:
        for i in range(3):
            _png(root / "train" / wnid / "images" / f"{wnid}_{i}.JPEG")
    lines = val_lines
    if lines is None:
        lines = [f"val_{i}.JPEG\t{wnid}\t0\t0\t5\t5" for i, wnid in enumerate(WNIDS)]
    for line in lines:
        _png(root / "val" / "images" / line.split()[0])
    (root / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    _png(root / "test" / "images" / "test_0.JPEG")
    return root


def test_image_folder_split_is_seeded_per_class_and_disjoint(tmp_path: Path) -> None:
    root = _folder(tmp_path / "ds", {"cup": 20, "beer_glass": 10, "soju_glass": 1})
    data = read_image_folder(root, val_fraction=0.1, seed=3)
    assert data.classes == ["beer_glass", "cup", "soju_glass"]
    assert data.val_from_train
    val_counts = np.bincount([s.label for s in data.splits["val"]], minlength=3)
    assert val_counts.tolist() == [1, 2, 0]  # 10%, at least one, never a class's only image
    train_paths = {s.path for s in data.splits["train"]}
    val_paths = {s.path for s in data.splits["val"]}
    assert not train_paths & val_paths and len(train_paths | val_paths) == 31
    again = read_image_folder(root, val_fraction=0.1, seed=3)
    assert [s.path for s in again.splits["val"]] == [s.path for s in data.splits["val"]]
    other = read_image_folder(root, val_fraction=0.1, seed=4)
    assert {s.path for s in other.splits["val"]} != val_paths


def test_image_folder_uses_val_and_test_folders(tmp_path: Path) -> None:
    root = _folder(tmp_path / "ds", {"a": 4, "b": 4})
    _folder(root, {"a": 2, "b": 1}, "val")
    _folder(root, {"b": 2}, "test")  # a split may lack a class
    data = read_dataset(root)
    assert list(data.splits) == ["train", "val", "test"]
    assert not data.val_from_train
    assert [len(data.splits[s]) for s in ("train", "val", "test")] == [8, 3, 2]
    assert {s.label for s in data.splits["test"]} == {1}
    assert data.labelled("test")


def test_image_folder_without_split_folders_is_train(tmp_path: Path) -> None:
    data = read_image_folder(_folder(tmp_path / "flat", {"x": 10, "y": 10}, split=None))
    assert set(data.splits) == {"train", "val"} and len(data.splits["val"]) == 2


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda r: r.mkdir(), "has no class folders"),
        (lambda r: (_folder(r, {"a": 2}), (r / "train" / "empty").mkdir()), "empty"),
        (lambda r: (_folder(r, {"a": 2}), _folder(r, {"zebra": 1}, "val")), "zebra"),
    ],
    ids=["no-classes", "empty-class", "unknown-val-class"],
)
def test_image_folder_errors_name_the_folder(tmp_path: Path, setup, message: str) -> None:
    root = tmp_path / "bad"
    setup(root)
    with pytest.raises(DatasetFormatError, match=message) as error:
        read_image_folder(root)
    assert str(root) in str(error.value)


def test_tiny_imagenet_layout(tmp_path: Path) -> None:
    data = read_dataset(_tiny(tmp_path / "tiny"))
    assert data.format == "tiny-imagenet"
    assert data.classes == list(WNIDS)
    assert data.descriptions == [f"thing {w}" for w in WNIDS]
    assert len(data.splits["train"]) == 9
    assert [s.label for s in data.splits["val"]] == [0, 1, 2]
    assert [s.label for s in data.splits["test"]] == [UNLABELLED]
    assert not data.labelled("test")


def _break_wnids(root: Path) -> None:
    (root / "wnids.txt").write_text("n001\nn002 extra\nn003\n")


def _break_words(root: Path) -> None:
    (root / "words.txt").write_text("n001\tthing\nn002 no tab here\n")


def _drop_train_folder(root: Path) -> None:
    for image in (root / "train" / "n002" / "images").iterdir():
        image.unlink()


@pytest.mark.parametrize(
    ("breaker", "val_lines", "file", "message"),
    [
        (_break_wnids, None, "wnids.txt:2", "not a single WordNet id"),
        (_break_words, None, "words.txt:2", "<wnid><TAB><description>"),
        (None, ["a.JPEG\tn001", "b.JPEG\tn999"], "val_annotations.txt:2", "n999"),
        (None, ["a.JPEG\tn001", "lonely.JPEG"], "val_annotations.txt:2", "lacks"),
        (lambda r: (r / "wnids.txt").unlink(), None, "wnids.txt", "missing"),
        (_drop_train_folder, None, "n002", "holds no images"),
        (lambda r: (r / "train" / "n777").mkdir(), None, "train", "n777"),
    ],
    ids=["wnids-line", "words-line", "unknown-wnid", "short-line", "no-wnids", "empty-train", "extra-train"],
)
def test_tiny_imagenet_errors_name_file_and_line(
    tmp_path: Path, breaker, val_lines: list[str] | None, file: str, message: str
) -> None:
    root = _tiny(tmp_path / "tiny", val_lines)
    if breaker is not None:
        breaker(root)
    with pytest.raises(DatasetFormatError, match=message) as error:
        read_tiny_imagenet(root)
    assert file in str(error.value)


def test_tiny_imagenet_missing_val_image_names_line(tmp_path: Path) -> None:
    root = _tiny(tmp_path / "tiny")
    (root / "val" / "images" / "val_1.JPEG").unlink()
    with pytest.raises(DatasetFormatError, match=r"val_annotations.txt:2: image .*val_1.JPEG does not exist"):
        read_tiny_imagenet(root)


def test_synthetic_mini_tiny_imagenet_reads_with_a_labelled_test_split(tmp_path: Path) -> None:
    root = write_tiny_imagenet(tmp_path / "mini", seed=0, n_classes=10, train_per_class=2, val_per_class=1,
                               test_per_class=1)  # fmt: skip
    data = read_dataset(root)
    assert len(data.classes) == 10 and all(d for d in data.descriptions)
    assert [len(data.splits[s]) for s in ("train", "val", "test")] == [20, 10, 10]
    assert data.labelled("test") and sorted(s.label for s in data.splits["test"]) == list(range(10))
