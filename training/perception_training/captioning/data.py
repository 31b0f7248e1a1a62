"""Caption datasets in memory: images resized once, captions tokenized and encoded once.

Caption datasets for this robot are small (hundreds to a few thousand images), so holding the
resized images as uint8 avoids decoding JPEGs every epoch on a 2-core machine.
"""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from perception.core.captioner import preprocess
from perception.core.text import CaptionRecord, Tokenizer, Vocabulary, read_captions

LOG = logging.getLogger(__name__)
SPLITS = ("train", "val", "test")


@dataclass
class CaptionSplit:
    """Images of one split and their tokenized reference captions (one list per image)."""

    names: list[str]
    images: torch.Tensor  # (N, 3, S, S) normalised float32
    references: list[list[list[str]]]

    def pair_count(self, per_image: int = 0) -> int:
        """How many samples :meth:`pairs` yields (without drawing from its generator)."""
        counts = (len(captions) for captions in self.references)
        return sum(min(per_image, count) if per_image else count for count in counts)

    def pairs(
        self, vocabulary: Vocabulary, max_len: int, per_image: int = 0, generator: random.Random | None = None
    ) -> list[tuple[int, list[int]]]:
        """(image index, encoded caption) samples: every reference caption, or ``per_image``
        randomly chosen ones per image (more distinct images per step for the same compute)."""
        return [
            (index, vocabulary.encode(tokens, max_len))
            for index, captions in enumerate(self.references)
            for tokens in (
                generator.sample(captions, min(per_image, len(captions))) if per_image else captions
            )
        ]


def load_splits(
    captions_file: Path,
    images_dir: Path,
    tokenizer: Tokenizer,
    image_size: int,
    splits_dir: Path | None = None,
    seed: int = 0,
) -> dict[str, CaptionSplit]:
    """Read captions, assign images to train/val/test and load the images at ``image_size``.

    With ``splits_dir`` (``train.txt``, ``val.txt``, ``test.txt``: one image name per line) the
    given split is used; without it images are split 80/10/10 by ``seed``.
    """
    by_image = _group(read_captions(captions_file))
    assignment = (
        _read_split_files(splits_dir, by_image) if splits_dir else _random_split(sorted(by_image), seed)
    )
    result = {}
    for split, names in assignment.items():
        if not names:
            continue
        references = [[tokenizer.tokenize(caption) for caption in by_image[name]] for name in names]
        images = preprocess(_read_images(images_dir, names, split), image_size)
        result[split] = CaptionSplit(names, images, references)
        LOG.info("%s split: %d images, %d captions", split, len(names), sum(map(len, references)))
    if "train" not in result or "val" not in result:
        raise ValueError(f"{captions_file}: need at least one train and one val image, got {sorted(result)}")
    return result


def batches(
    pairs: list[tuple[int, list[int]]], batch_size: int, pad: int, generator: random.Random | None
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(image indices, padded caption ids) batches; shuffled when ``generator`` is given."""
    order = list(range(len(pairs)))
    if generator is not None:
        generator.shuffle(order)
    result = []
    for start in range(0, len(order), batch_size):
        chunk = [pairs[index] for index in order[start : start + batch_size]]
        width = max(len(ids) for _, ids in chunk)
        captions = torch.full((len(chunk), width), pad, dtype=torch.long)
        for row, (_, ids) in enumerate(chunk):
            captions[row, : len(ids)] = torch.tensor(ids)
        result.append((torch.tensor([image for image, _ in chunk]), captions))
    return result


def _group(records: list[CaptionRecord]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for record in records:
        grouped[record.image].append(record.caption)
    return dict(grouped)


def _read_split_files(splits_dir: Path, by_image: dict[str, list[str]]) -> dict[str, list[str]]:
    known = {Path(name).stem: name for name in by_image}
    assignment = {}
    for split in SPLITS:
        path = splits_dir / f"{split}.txt"
        if not path.is_file():
            assignment[split] = []
            continue
        names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        missing = [name for name in names if name not in by_image and Path(name).stem not in known]
        if missing:
            raise ValueError(f"{path} lists {len(missing)} images without captions, e.g. {missing[:3]}")
        assignment[split] = [name if name in by_image else known[Path(name).stem] for name in names]
    return assignment


def _random_split(names: list[str], seed: int) -> dict[str, list[str]]:
    shuffled = list(names)
    random.Random(seed).shuffle(shuffled)
    held_out = max(1, len(shuffled) // 10)
    return {
        "val": shuffled[:held_out],
        "test": shuffled[held_out : 2 * held_out],
        "train": shuffled[2 * held_out :],
    }


def _read_images(images_dir: Path, names: list[str], split: str) -> list[np.ndarray]:
    images = []
    for name in tqdm(names, desc=f"load {split} images", leave=False):
        image = cv2.imread(str(images_dir / name), cv2.IMREAD_COLOR)
        if image is None:
            raise FileNotFoundError(
                f"image {images_dir / name} (named in the captions file) is missing or unreadable"
            )
        images.append(image)
    return images
