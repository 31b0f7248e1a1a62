"""The LightningDataModule of a classification data set: augmented, reshuffled training batches
per epoch, clean validation batches, and a fixed clean subset for BatchNorm re-estimation."""

from __future__ import annotations

import lightning as L
import torch
from torch.utils.data import DataLoader, DistributedSampler, Subset

from perception.core.classifier import Preprocessing
from perception_training.classification.datasets import SampleDataset
from perception_training.classification.readers import ClassificationData
from perception_training.classification.recipes import TrainConfig
from perception_training.classification.transforms import (
    eval_transform,
    progressive_strength,
    train_transform,
)
from perception_training.engine.run import epoch_seed


class ClassificationDataModule(L.LightningDataModule):
    """Loaders over ``data``'s splits; the training one changes every epoch."""

    def __init__(self, data: ClassificationData, config: TrainConfig) -> None:
        super().__init__()
        self.data, self.config = data, config
        self.preprocessing = Preprocessing(config.image_size)
        self.train_set = SampleDataset(data.splits["train"], eval_transform(self.preprocessing))
        self.strength = config.aug_start

    def train_dataloader(self) -> DataLoader:
        """This epoch's loader (the trainer reloads it every epoch): augmentation at the epoch's
        strength and an order drawn from the epoch's seed, so a resumed run sees what an unbroken
        one would have. Distributed, each rank reads its own share of that order."""
        cfg, trainer = self.config, self.trainer
        seed = epoch_seed(trainer, cfg.seed)
        self.strength = progressive_strength(trainer.current_epoch, cfg.epochs, cfg.aug_start, cfg.aug_end)
        self.train_set.transform = train_transform(self.preprocessing, self.strength, seed=seed)
        # Distributed or not, the order is a function of (seed, epoch) however often it is iterated.
        sampler = DistributedSampler(self.train_set, trainer.world_size, trainer.global_rank, seed=cfg.seed)
        sampler.set_epoch(trainer.current_epoch)
        return DataLoader(
            self.train_set,
            batch_size=cfg.batch_size,
            sampler=sampler,
            drop_last=len(self.train_set) > cfg.batch_size,  # BatchNorm cannot train on 1 image
            num_workers=cfg.workers,
            generator=torch.Generator().manual_seed(seed),  # the workers' seeds
        )

    def val_dataloader(self) -> DataLoader:
        return self.eval_loader("val")

    def eval_loader(self, split: str) -> DataLoader:
        """``split`` in file order with the inference preprocessing alone."""
        dataset = SampleDataset(self.data.splits[split], eval_transform(self.preprocessing))
        return DataLoader(dataset, batch_size=self.config.batch_size, num_workers=self.config.workers)

    def batchnorm_loader(self) -> DataLoader | None:
        """A fixed, seeded subset of clean training images for BatchNorm re-estimation (None: off)."""
        count = min(self.config.bn_recalibration, len(self.train_set))
        if count % self.config.batch_size == 1 and count > 1:
            count -= 1  # a last batch of one image cannot be normalised in training mode
        if count <= 0:
            return None
        generator = torch.Generator().manual_seed(self.config.seed)
        order = torch.randperm(len(self.train_set), generator=generator)
        subset = Subset(
            SampleDataset(self.train_set.samples, eval_transform(self.preprocessing)), order[:count].tolist()
        )
        return DataLoader(subset, batch_size=self.config.batch_size, num_workers=self.config.workers)
