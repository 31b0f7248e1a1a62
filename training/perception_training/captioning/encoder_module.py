"""Pretraining the captioner's encoder on object boxes: grid-cell targets in memory, the
LightningDataModule that batches (and mirrors) them, and the LightningModule that learns them.

Every cell of the encoder's output grid predicts which classes overlap it, and the image level
(max over cells) which classes are in the picture; the loss is both binary cross-entropies.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

import cv2
import lightning as L
import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from torchmetrics.classification import MultilabelAveragePrecision
from tqdm import tqdm

from perception.core.caption_model import ENCODER_CHANNELS, CaptionEncoder
from perception.core.captioner import preprocess
from perception_training.captioning.data import leading_batches
from perception_training.captioning.yolo_grid import YoloSplit, grid_targets
from perception_training.engine.optim import make_optimizer
from perception_training.engine.run import batches_per_epoch

ARTIFACT_KIND = "caption_encoder"
_LOAD_CHUNK = 256  # images decoded and normalised at a time


@dataclass  # not frozen: Lightning moves a batch to the device field by field
class GridTensors:
    """A split (or a batch) in memory: normalised images, per-cell targets and per-image presence."""

    images: torch.Tensor  # (N, 3, S, S) normalised
    cells: torch.Tensor  # (N, cells, classes)
    present: torch.Tensor  # (N, classes)


def load_split(
    split: YoloSplit, classes: int, grid: tuple[int, int], image_size: int, name: str
) -> GridTensors:
    """Decode, resize and normalise every image of ``split``; grid targets from its boxes."""
    chunks = []
    for start in tqdm(range(0, len(split.images), _LOAD_CHUNK), desc=f"load {name}", leave=False):
        frames = []
        for path in split.images[start : start + _LOAD_CHUNK]:
            frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if frame is None:
                raise FileNotFoundError(f"{path} is missing or not an image; regenerate or remove it")
            frames.append(frame)
        chunks.append(preprocess(frames, image_size))
    cells = torch.from_numpy(np.stack([grid_targets(boxes, classes, grid) for boxes in split.boxes]))
    return GridTensors(torch.cat(chunks), cells, cells.amax(dim=1))


def mirrored(
    data: GridTensors, indices: torch.Tensor, flips: torch.Tensor, grid: tuple[int, int]
) -> GridTensors:
    """The samples ``indices``, those with ``flips`` mirrored left-right with their grid targets.

    Presence is mirror-invariant; the mirror doubles the distinct images an epoch shows (the
    encoder overfit 16000 synthetic scenes after ~14 epochs without it).
    """
    images, cells = data.images[indices].clone(), data.cells[indices].clone()
    images[flips] = images[flips].flip(-1)
    cells[flips] = cells[flips].unflatten(1, grid).flip(2).flatten(1, 2)
    return GridTensors(images, cells, data.present[indices])


class GridDataModule(L.LightningDataModule):
    """Shuffled, half-mirrored training batches from one seeded stream; validation in order."""

    def __init__(
        self,
        train: GridTensors,
        val: GridTensors,
        grid: tuple[int, int],
        batch_size: int,
        flip: bool,
        seed: int,
    ) -> None:
        super().__init__()
        self.train, self.val, self.grid = train, val, grid
        self.batch_size, self.flip, self.seed = batch_size, flip, seed
        self.generator: torch.Generator | None = None

    def train_dataloader(self) -> DataLoader:
        """The epoch's order and mirror draws, made in advance (Lightning may iterate a loader
        twice) from one generator that runs through the epochs, seeded when the fit starts."""
        if self.generator is None:
            self.generator = torch.Generator().manual_seed(self.seed + self.trainer.current_epoch)
        order = torch.randperm(len(self.train.images), generator=self.generator)
        batches = order.split(self.batch_size)
        if self.flip:
            flips = torch.cat([torch.rand(len(batch), generator=self.generator) < 0.5 for batch in batches])
        else:
            flips = torch.zeros(len(order), dtype=torch.bool)
        samples = list(zip(order.tolist(), flips.tolist(), strict=True))
        return DataLoader(
            samples, batch_size=self.batch_size, collate_fn=partial(_collate, self.train, self.grid)
        )

    def steps_per_epoch(self) -> int:
        """Optimizer steps of one epoch on each process."""
        return batches_per_epoch(len(self.train.images), self.batch_size, self.trainer)

    def val_dataloader(self) -> DataLoader:
        samples = [(index, False) for index in range(len(self.val.images))]
        return DataLoader(
            samples, batch_size=self.batch_size, collate_fn=partial(_collate, self.val, self.grid)
        )


def _collate(data: GridTensors, grid: tuple[int, int], samples: list[tuple[int, bool]]) -> GridTensors:
    indices = torch.tensor([index for index, _ in samples])
    return mirrored(data, indices, torch.tensor([flip for _, flip in samples]), grid)


class EncoderPretrainModule(L.LightningModule):
    """A :class:`CaptionEncoder` plus a linear per-cell class head; the artifact is the encoder's
    ``features.*`` in torchvision's naming, which ``CaptionEncoder(weights_file)`` loads."""

    def __init__(self, settings: dict[str, Any], classes: list[str], dataset: dict[str, Any]) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.settings, self.classes = settings, list(classes)
        self.encoder = CaptionEncoder()
        with torch.no_grad():
            size = self.encoder.features(
                torch.zeros(1, 3, settings["image_size"], settings["image_size"])
            ).shape
        self.grid = (int(size[-2]), int(size[-1]))
        self.head = nn.Linear(ENCODER_CHANNELS, len(classes))
        self.average_precision = MultilabelAveragePrecision(num_labels=len(classes), average=None)

    def _loss_and_scores(self, batch: GridTensors) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-cell + image-level BCE, and the image-level logits (max over cells)."""
        cells = self.head(self.encoder(batch.images))
        scores = cells.amax(dim=1)
        bce = nn.functional.binary_cross_entropy_with_logits
        return bce(cells, batch.cells) + bce(scores, batch.present), scores

    def training_step(self, batch: GridTensors, batch_idx: int) -> torch.Tensor:
        loss, _ = self._loss_and_scores(batch)
        size = len(batch.images)
        self.log(
            "train_loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=size, sync_dist=True
        )
        return loss

    def validation_step(self, batch: GridTensors, batch_idx: int) -> None:
        loss, scores = self._loss_and_scores(batch)
        self.log("val_loss", loss, on_epoch=True, batch_size=len(batch.images), sync_dist=True)
        self.average_precision.update(torch.sigmoid(scores.float()), batch.present.long())

    def on_validation_epoch_end(self) -> None:
        """Average precision of the image-level presence per class (0 for a class never present)."""
        ap = torch.nan_to_num(self.average_precision.compute(), nan=0.0)
        self.average_precision.reset()
        self.log_dict(
            {"mAP": ap.mean(), **{f"AP_{name}": value for name, value in zip(self.classes, ap, strict=True)}}
        )

    def configure_optimizers(self) -> dict[str, Any]:
        """AdamW with a one-cycle learning rate (peak ``lr``), stepped per batch."""
        s = self.settings
        optimizer = make_optimizer("adamw", self.parameters(), s["lr"], s["weight_decay"])
        total = (
            s["epochs"] * self.trainer.datamodule.steps_per_epoch()
        )  # no loader built: its draws are the data's
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, s["lr"], total_steps=total, pct_start=0.15)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def batchnorm_batches(self) -> tuple[nn.Module, Iterable[torch.Tensor]]:
        images = self.trainer.datamodule.train.images
        return self.encoder, leading_batches(images, self.settings["batch_size"])

    def artifact_tensors(self) -> dict[str, torch.Tensor]:
        return {f"features.{name}": tensor for name, tensor in self.encoder.features.state_dict().items()}

    def artifact_metadata(self) -> dict[str, Any]:
        size = self.settings["image_size"]
        return {
            "kind": ARTIFACT_KIND,
            "architecture": "mobilenet_v3_small_features",
            "input_size": [size, size],
            "grid": list(self.grid),
            "classes": self.classes,
            "dataset": self.hparams.dataset,
            "training": self.settings,
        }
