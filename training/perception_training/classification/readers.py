"""Read classification datasets into labelled file lists: ImageFolder trees and Tiny-ImageNet-200.

Readers only list files and labels (cheap, and every problem surfaces before training starts);
pixels are decoded later by :mod:`.datasets`. Every format problem raises
:class:`DatasetFormatError` naming the file (and line) and how to fix it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from torchvision.datasets.folder import IMG_EXTENSIONS, find_classes, make_dataset

UNLABELLED = -1
SPLITS = ("train", "val", "test")
_WNID = re.compile(r"^\S+$")


class DatasetFormatError(ValueError):
    """A dataset file or folder is missing or malformed; the message names it and the fix."""


@dataclass(frozen=True)
class Sample:
    """One image file and its class index (``UNLABELLED`` for Tiny-ImageNet's test images)."""

    path: Path
    label: int


@dataclass
class ClassificationData:
    """Class names and the samples of each split (``train``, ``val``, optionally ``test``)."""

    root: Path
    format: str
    classes: list[str]
    splits: dict[str, list[Sample]]
    descriptions: list[str] = field(default_factory=list)
    val_from_train: bool = False

    def labelled(self, split: str) -> bool:
        """True when every sample of ``split`` has a known class."""
        samples = self.splits.get(split, [])
        return bool(samples) and all(s.label != UNLABELLED for s in samples)


def read_dataset(root: str | Path, val_fraction: float = 0.1, seed: int = 0) -> ClassificationData:
    """Read ``root`` as Tiny-ImageNet-200 when it has ``wnids.txt``, else as an ImageFolder tree."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetFormatError(f"dataset folder {root} does not exist; check --data")
    if (root / "wnids.txt").exists():
        return read_tiny_imagenet(root)
    return read_image_folder(root, val_fraction, seed)


def read_image_folder(root: str | Path, val_fraction: float = 0.1, seed: int = 0) -> ClassificationData:
    """Read ``root/{train,val,test}/<class>/<image>`` (or ``root/<class>/<image>`` as train only).

    Without a ``val`` folder, a seeded, per-class ``val_fraction`` of train becomes validation.
    """
    root = Path(root)
    train_dir = root / "train" if (root / "train").is_dir() else root
    classes, train = read_class_folders(train_dir)
    class_to_idx = {name: i for i, name in enumerate(classes)}
    splits = {"train": train}
    for split in ("val", "test"):
        if train_dir != root and (root / split).is_dir():
            splits[split] = _folder_samples(root / split, class_to_idx, allow_empty=True)
    val_from_train = "val" not in splits
    if val_from_train:
        splits["train"], splits["val"] = split_train_val(splits["train"], val_fraction, seed)
    ordered = {split: splits[split] for split in SPLITS if split in splits}
    return ClassificationData(root, "imagefolder", classes, ordered, list(classes), val_from_train)


def read_class_folders(folder: str | Path) -> tuple[list[str], list[Sample]]:
    """Classes (sorted sub-folder names) and samples of one ``folder/<class>/<image>`` tree."""
    folder = Path(folder)
    try:
        classes, class_to_idx = find_classes(str(folder))
    except FileNotFoundError as error:
        raise DatasetFormatError(
            f"{folder} has no class folders ({error}); expected {folder}/<class>/<image>"
        ) from error
    return classes, _folder_samples(folder, class_to_idx, allow_empty=False)


def _folder_samples(folder: Path, class_to_idx: dict[str, int], allow_empty: bool) -> list[Sample]:
    unknown = sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name not in class_to_idx)
    if unknown:
        raise DatasetFormatError(
            f"{folder} has class folders {unknown} that the train split lacks; "
            "every class must have training images"
        )
    try:
        pairs = make_dataset(str(folder), class_to_idx, extensions=IMG_EXTENSIONS, allow_empty=allow_empty)
    except FileNotFoundError as error:
        raise DatasetFormatError(f"{folder}: {error}; add images ({', '.join(IMG_EXTENSIONS)})") from error
    return [Sample(Path(path), label) for path, label in pairs]


def split_train_val(
    samples: list[Sample], val_fraction: float, seed: int
) -> tuple[list[Sample], list[Sample]]:
    """Seeded per-class split: the same files land in validation on every machine and run."""
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must lie strictly between 0 and 1, got {val_fraction}")
    rng = np.random.default_rng(seed)
    train: list[Sample] = []
    val: list[Sample] = []
    for label in sorted({s.label for s in samples}):
        members = sorted((s for s in samples if s.label == label), key=lambda s: s.path.as_posix())
        order = rng.permutation(len(members))
        n_val = max(1, round(len(members) * val_fraction)) if len(members) > 1 else 0
        val += [members[i] for i in order[:n_val]]
        train += [members[i] for i in order[n_val:]]
    return train, val


def read_tiny_imagenet(root: str | Path) -> ClassificationData:
    """Read the Tiny-ImageNet-200 layout: wnids.txt, words.txt, train/, val/ (annotated), test/.

    ``test/`` is unlabelled in the real dataset; a ``test/test_annotations.txt`` labels it.
    """
    root = Path(root)
    wnids = _read_wnids(root / "wnids.txt")
    index = {wnid: i for i, wnid in enumerate(wnids)}
    words = _read_words(root / "words.txt")
    splits = {
        "train": _tiny_train(root / "train", index),
        "val": _tiny_annotated(root / "val", index),
    }
    if (root / "test" / "test_annotations.txt").is_file():  # our synthetic copy labels its test split
        splits["test"] = _tiny_annotated(root / "test", index)
    elif (root / "test" / "images").is_dir():  # the real one does not
        splits["test"] = [Sample(p, UNLABELLED) for p in _images_in(root / "test" / "images")]
    descriptions = [words.get(wnid, wnid) for wnid in wnids]
    return ClassificationData(root, "tiny-imagenet", wnids, splits, descriptions)


def _lines(path: Path) -> list[tuple[int, str]]:
    """Numbered non-blank lines of a text file, or an error naming the missing file."""
    if not path.is_file():
        raise DatasetFormatError(f"{path} is missing; a Tiny-ImageNet-200 folder needs it")
    text = path.read_text(encoding="utf-8")
    return [(n, line.rstrip("\r\n")) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]


def _read_wnids(path: Path) -> list[str]:
    wnids: list[str] = []
    for number, line in _lines(path):
        wnid = line.strip()
        if not _WNID.match(wnid):
            raise DatasetFormatError(f"{path}:{number}: {line!r} is not a single WordNet id; one id per line")
        if wnid in wnids:
            raise DatasetFormatError(f"{path}:{number}: {wnid} is listed twice")
        wnids.append(wnid)
    if not wnids:
        raise DatasetFormatError(f"{path} lists no classes")
    return wnids


def _read_words(path: Path) -> dict[str, str]:
    words: dict[str, str] = {}
    for number, line in _lines(path):
        wnid, tab, description = line.partition("\t")
        if not tab or not _WNID.match(wnid) or not description.strip():
            raise DatasetFormatError(
                f"{path}:{number}: {line!r} is not '<wnid><TAB><description>'; fix or remove the line"
            )
        words[wnid] = description.split(",")[0].strip()
    return words


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMG_EXTENSIONS)


def _tiny_train(train_dir: Path, index: dict[str, int]) -> list[Sample]:
    if not train_dir.is_dir():
        raise DatasetFormatError(f"{train_dir} is missing; expected train/<wnid>/images/")
    unknown = sorted(p.name for p in train_dir.iterdir() if p.is_dir() and p.name not in index)
    if unknown:
        raise DatasetFormatError(f"{train_dir} has folders {unknown} that are not in wnids.txt")
    samples: list[Sample] = []
    for wnid, label in index.items():
        images = train_dir / wnid / "images"
        if not images.is_dir() or not (files := _images_in(images)):
            raise DatasetFormatError(
                f"{images} is missing or holds no images; every wnid needs training images"
            )
        samples += [Sample(p, label) for p in files]
    return samples


def _tiny_annotated(split_dir: Path, index: dict[str, int]) -> list[Sample]:
    """``<split>/images/`` labelled by ``<split>/<split>_annotations.txt`` (file, wnid, box)."""
    annotations = split_dir / f"{split_dir.name}_annotations.txt"
    samples: list[Sample] = []
    for number, line in _lines(annotations):
        fields = line.split("\t") if "\t" in line else line.split()
        if len(fields) < 2:
            raise DatasetFormatError(
                f"{annotations}:{number}: {line!r} lacks '<file><TAB><wnid>'; fix or remove the line"
            )
        name, wnid = fields[0].strip(), fields[1].strip()
        if wnid not in index:
            raise DatasetFormatError(f"{annotations}:{number}: wnid {wnid!r} is not in wnids.txt")
        image = split_dir / "images" / name
        if not image.is_file():
            raise DatasetFormatError(f"{annotations}:{number}: image {image} does not exist")
        samples.append(Sample(image, index[wnid]))
    if not samples:
        raise DatasetFormatError(f"{annotations} lists no images")
    return samples
