"""Caption datasets in memory (images resized once, captions tokenized and encoded once) and the
LightningDataModule that batches them.

Caption datasets for this robot are small (hundreds to a few thousand images), so holding the
resized, normalised images in memory avoids decoding JPEGs every epoch on a 2-core machine.
"""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import cv2
import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from perception.core.captioner import preprocess
from perception.core.text import Tokenizer, Vocabulary
from perception_training.captioning.captions_file import CaptionRecord, read_captions
from perception_training.engine.run import batches_per_epoch

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
    by_image = _group(read_captions(captions_file, images=images_dir))
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


class CaptionDataModule(L.LightningDataModule):
    """(image, caption) batches of the in-memory splits: each epoch samples captions, shuffles and
    draws shifts from one seeded stream; the validation split keeps every caption in file order.
    A distributed run's ranks share the epoch's order and each takes every n-th sample of it."""

    def __init__(
        self,
        splits: dict[str, CaptionSplit],
        vocabulary: Vocabulary,
        batch_size: int,
        max_len: int,
        captions_per_image: int = 0,
        shift: float = 0.0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.splits, self.vocabulary, self.batch_size, self.max_len = splits, vocabulary, batch_size, max_len
        self.captions_per_image, self.shift, self.seed = captions_per_image, shift, seed
        self.concepts = concept_targets(splits["train"], vocabulary)
        self.generator: random.Random | None = None

    def train_dataloader(self) -> DataLoader:
        """The epoch's samples, shuffled, each with its random shift drawn in advance (Lightning may
        iterate a loader twice; the draws must not depend on it). One stream of draws runs through
        the epochs, seeded ``seed + first epoch`` (counted from one) when the fit starts."""
        if self.generator is None:
            self.generator = random.Random(self.seed + self.trainer.current_epoch + 1)
        train = self.splits["train"]
        pairs = train.pairs(self.vocabulary, self.max_len, self.captions_per_image, self.generator)
        order = list(range(len(pairs)))
        self.generator.shuffle(order)
        margin = round(self.shift * train.images.size(-1))
        draw = self.generator.randint
        samples = [
            (*pairs[index], (draw(0, 2 * margin), draw(0, 2 * margin)) if margin else None) for index in order
        ]
        collate = partial(_collate, train.images, self.concepts, self.vocabulary.pad, margin)
        return DataLoader(samples, batch_size=self.batch_size, collate_fn=collate, generator=_own_generator())

    def steps_per_epoch(self) -> int:
        """Optimizer steps of one epoch on each process."""
        pairs = self.splits["train"].pair_count(self.captions_per_image)
        return batches_per_epoch(pairs, self.batch_size, self.trainer)

    def val_dataloader(self) -> DataLoader:
        val = self.splits["val"]
        samples = [(*pair, None) for pair in val.pairs(self.vocabulary, self.max_len)]
        collate = partial(_collate, val.images, None, self.vocabulary.pad, 0)
        return DataLoader(samples, batch_size=self.batch_size, collate_fn=collate, generator=_own_generator())


def _own_generator() -> torch.Generator:
    """A loader's own generator: creating its iterator then draws from it, not from torch's global
    generator, which dropout uses (the stream a run's seed fixes)."""
    return torch.Generator().manual_seed(0)


def concept_targets(split: CaptionSplit, vocabulary: Vocabulary) -> torch.Tensor:
    """(images, vocabulary) multi-hot: the words any reference caption of each image uses."""
    targets = torch.zeros(len(split.names), len(vocabulary))
    for index, captions in enumerate(split.references):
        ids = {
            vocabulary.word_map[token]
            for tokens in captions
            for token in tokens
            if token in vocabulary.word_map
        }
        targets[index, sorted(ids)] = 1.0
    return targets


def leading_batches(images: torch.Tensor, batch_size: int, limit: int = 1024) -> list[torch.Tensor]:
    """Batches of the first ``limit`` images (rounded up to whole batches): the fixed set the
    encoder's BatchNorm statistics are re-estimated on before every validation."""
    return [images[start : start + batch_size] for start in range(0, min(len(images), limit), batch_size)]


Sample = tuple[int, list[int], tuple[int, int] | None]  # image index, caption ids, shift offsets


def _collate(
    images: torch.Tensor, concepts: torch.Tensor | None, pad: int, margin: int, samples: list[Sample]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """(images shifted by their offsets, captions padded to the longest, concept targets)."""
    ids = torch.tensor([image for image, _, _ in samples])
    width = max(len(caption) for _, caption, _ in samples)
    captions = torch.full((len(samples), width), pad, dtype=torch.long)
    for row, (_, caption, _) in enumerate(samples):
        captions[row, : len(caption)] = torch.tensor(caption)
    batch = images[ids]
    if margin:
        # Translation only, edges replicated: captions name left/right and colours, so no flips or
        # colour changes.
        padded = torch.nn.functional.pad(batch, (margin, margin, margin, margin), mode="replicate")
        size = batch.size(-1)
        batch = torch.stack(
            [padded[row, :, y : y + size, x : x + size] for row, (_, _, (y, x)) in enumerate(samples)]
        )
    return batch, captions, None if concepts is None else concepts[ids]


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
