"""The LightningModule that trains an image classifier from a recipe: progressive augmentation,
CutMix/MixUp as often as the augmentation strength says, a frozen-then-thawed backbone, warm-up +
cosine learning rates per step.

Its hyper-parameters are plain data (the config as a dict, class names, dataset provenance),
so a Lightning checkpoint loads with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import lightning as L
import torch
from torch import nn
from torch.nn import functional as F
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassAccuracy

from perception.core.classifier import CLASSIFIER_KIND, Preprocessing, build_classifier
from perception.core.domain import last_linear
from perception_training.classification.backbone import freeze_backbone, load_pretrained_backbone, unfreeze
from perception_training.classification.recipes import TrainConfig
from perception_training.classification.transforms import batch_mixer, mix_probability
from perception_training.engine.optim import make_optimizer, per_step_schedule
from perception_training.engine.run import epoch_seed

Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # images, labels, dataset indices


class ClassifierModule(L.LightningModule):
    """``config.architecture`` over ``classes``; provides the artifact for ArtifactExport."""

    def __init__(
        self,
        config: dict[str, Any],
        classes: Sequence[str],
        descriptions: Sequence[str],
        task: str,
        dataset: dict[str, Any],
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.config = cfg = TrainConfig.from_dict(config)
        self.classes = list(classes)
        self.preprocessing = Preprocessing(cfg.image_size)
        self.model = build_classifier(
            cfg.architecture,
            len(classes),
            cfg.image_size,
            cfg.drop_rate,
            cfg.attn_drop_rate,
            cfg.drop_path_rate,
        )
        if cfg.pretrained:
            load_pretrained_backbone(self.model, cfg.pretrained)
        self.criterion = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
        self.mixer = batch_mixer(len(classes), cfg.cutmix_alpha, cfg.mixup_alpha)
        self.epoch_mix_prob = 0.0  # set at every epoch start from the augmentation strength
        top5 = min(5, len(classes))
        self.train_top1 = MulticlassAccuracy(len(classes), average="micro")
        self.train_top5 = MulticlassAccuracy(len(classes), top_k=top5, average="micro")
        self.val_top1 = MulticlassAccuracy(len(classes), average="micro")
        self.val_top5 = MulticlassAccuracy(len(classes), top_k=top5, average="micro")
        self.val_loss = MeanMetric()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(images)

    def on_train_epoch_start(self) -> None:
        """Seed and frozen backbone of this epoch, whether resumed or not (the data module sets the
        epoch's augmentation and order)."""
        cfg, epoch = self.config, self.current_epoch
        torch.manual_seed(epoch_seed(self.trainer, cfg.seed))  # mixing and dropout
        frozen = epoch < cfg.freeze_epochs
        (freeze_backbone if frozen else unfreeze)(self.model)
        backbone, head = self.trainer.optimizers[0].param_groups
        rates = {"lr_backbone": 0.0 if frozen else backbone["lr"], "lr_head": head["lr"]}  # first step's
        strength = self.trainer.datamodule.strength
        self.epoch_mix_prob = mix_probability(cfg.mix_prob, strength) if self.mixer is not None else 0.0
        schedule = {"aug_strength": round(strength, 4), "mix_prob": round(self.epoch_mix_prob, 4), **rates}
        self.log_dict(schedule, on_step=False, on_epoch=True, sync_dist=True)

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        images, labels, _ = batch
        targets = labels
        if self.mixer is not None and torch.rand(()) < self.epoch_mix_prob:
            images, targets = self.mixer(images, labels)
        logits = self.model(images)
        loss = self.criterion(logits, targets)
        self.train_top1(logits, labels)
        self.train_top5(logits, labels)
        size = len(labels)
        self.log(
            "train_loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=size, sync_dist=True
        )
        self.log("train_top1", self.train_top1, on_step=False, on_epoch=True, batch_size=size)
        self.log("train_top5", self.train_top5, on_step=False, on_epoch=True, batch_size=size)
        return loss

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        images, labels, _ = batch
        logits = self.model(images)
        # Without label smoothing: the honest loss to compare epochs by.
        self.val_loss(F.cross_entropy(logits.float(), labels, reduction="none"))
        self.val_top1(logits, labels)
        self.val_top5(logits, labels)
        self.log("val_loss", self.val_loss, on_epoch=True, batch_size=len(labels))
        self.log("val_top1", self.val_top1, on_epoch=True, prog_bar=True, batch_size=len(labels))
        self.log("val_top5", self.val_top5, on_epoch=True, batch_size=len(labels))

    def configure_optimizers(self) -> dict[str, Any]:
        """Two parameter groups, so the head and the backbone can learn at different rates."""
        cfg = self.config
        head_ids = {id(p) for p in last_linear(self.model).parameters()}
        head = [p for p in self.model.parameters() if id(p) in head_ids]
        backbone = [p for p in self.model.parameters() if id(p) not in head_ids]
        groups = [
            {
                "params": backbone,
                "lr": cfg.lr if cfg.backbone_lr is None else cfg.backbone_lr,
                "name": "backbone",
            },
            {"params": head, "lr": cfg.lr, "name": "head"},
        ]
        optimizer = make_optimizer(cfg.optimizer, groups, cfg.lr, cfg.weight_decay, cfg.momentum)
        steps = int(self.trainer.estimated_stepping_batches)
        warmup = max(1, round(cfg.warmup_epochs * steps / cfg.epochs))
        return {"optimizer": optimizer, "lr_scheduler": per_step_schedule(optimizer, steps, warmup)}

    def batchnorm_batches(self) -> tuple[nn.Module, Iterable[Any]] | None:
        loader = self.trainer.datamodule.batchnorm_loader()
        return None if loader is None else (self.model, loader)

    def artifact_tensors(self) -> dict[str, torch.Tensor]:
        return self.model.state_dict()

    def artifact_metadata(self) -> dict[str, Any]:
        size = self.config.image_size
        return {
            "kind": CLASSIFIER_KIND,
            "architecture": self.config.architecture,
            "classes": self.classes,
            "class_descriptions": list(self.hparams.descriptions),
            "input_size": [size, size],
            "preprocessing": self.preprocessing.to_metadata(),
            "task": self.hparams.task,
            "dataset": self.hparams.dataset,
            "training": {"config": self.hparams.config},
        }
