"""The LightningModule that trains a sign classifier from the video model table.

Its hyper-parameters are plain data only (strings, numbers, lists, dicts), so a Lightning
checkpoint loads with ``torch.load(weights_only=True)`` and rebuilds the model without pickles.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import lightning as L
import torch
from torch import nn
from torch.nn import functional as F
from torchmetrics.classification import MulticlassAccuracy

from perception.core.video_models import VideoModelSpec, build_video_model
from perception_training.engine.optim import make_optimizer, per_epoch_schedule
from perception_training.sign.artifact import sign_metadata

MODEL_PREFIX = "model."  # state-dict prefix of the network's weights inside a checkpoint


class SignClassifier(L.LightningModule):
    """Cross-entropy training with accuracy per epoch; provides the artifact for ArtifactExport."""

    def __init__(
        self,
        spec: dict[str, Any],
        classes: Sequence[str],
        glosses: Sequence[str],
        clip_duration: float,
        dropout: float = 0.5,
        optimizer: str = "adam",
        scheduler: str = "cosine",
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-4,
        label_smoothing: float = 0.1,
        epochs: int = 30,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.spec = VideoModelSpec.from_dict(spec)
        self.classes, self.glosses = list(classes), list(glosses)
        self.model = build_video_model(self.spec.name, len(self.classes), dropout)
        self.train_acc = MulticlassAccuracy(num_classes=len(self.classes), average="micro")
        self.val_acc = MulticlassAccuracy(num_classes=len(self.classes), average="micro")
        self.val_outputs: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.val_predictions: tuple[torch.Tensor, torch.Tensor] | None = None  # for the confusion matrix

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.model(clips)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        clips, labels = batch
        logits = self(clips)
        loss = F.cross_entropy(logits, labels, label_smoothing=self.hparams.label_smoothing)
        self.train_acc(logits, labels)
        size = len(labels)
        self.log(
            "train_loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=size, sync_dist=True
        )
        self.log("train_acc", self.train_acc, on_step=False, on_epoch=True, batch_size=size)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        clips, labels = batch
        logits = self(clips)
        self.val_acc(logits, labels)
        # Validation loss without label smoothing: the honest figure to compare epochs by.
        size = len(labels)
        self.log("val_loss", F.cross_entropy(logits, labels), on_epoch=True, batch_size=size, sync_dist=True)
        self.log("val_acc", self.val_acc, on_epoch=True, prog_bar=True, batch_size=size)
        self.val_outputs.append((logits.detach().float(), labels))

    def on_validation_epoch_end(self) -> None:
        """``val_predictions``: (logits, labels) of this validation pass, of every process."""
        logits, labels = (torch.cat(parts) for parts in zip(*self.val_outputs, strict=True))
        self.val_outputs = []
        if self.trainer.world_size > 1:  # a distributed sampler gives every process as many clips
            logits, labels = (self.all_gather(tensor).flatten(0, 1) for tensor in (logits, labels))
        self.val_predictions = (logits.cpu(), labels.cpu())

    def configure_optimizers(self) -> dict[str, Any]:
        hp = self.hparams
        optimizer = make_optimizer(hp.optimizer, self.parameters(), hp.learning_rate, hp.weight_decay)
        schedule = per_epoch_schedule(optimizer, hp.epochs, hp.scheduler)
        return {"optimizer": optimizer, **({"lr_scheduler": schedule} if schedule else {})}

    def artifact_tensors(self) -> dict[str, torch.Tensor]:
        return self.model.state_dict()

    def artifact_metadata(self) -> dict[str, Any]:
        return {
            **sign_metadata(self.spec, self.classes, self.glosses, self.hparams.clip_duration),
            "training": {k: v for k, v in self.hparams.items() if k not in ("spec", "classes", "glosses")},
        }


def model_from_checkpoint(path: str, device: str = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """``(network in eval mode, sign metadata)`` from a Lightning checkpoint, without unpickling code."""
    checkpoint = torch.load(path, map_location=device, weights_only=True)
    hp = checkpoint["hyper_parameters"]
    spec = VideoModelSpec.from_dict(hp["spec"])
    model = build_video_model(spec.name, len(hp["classes"]), dropout=0.0)
    weights = {
        key.removeprefix(MODEL_PREFIX): value
        for key, value in checkpoint["state_dict"].items()
        if key.startswith(MODEL_PREFIX)
    }
    model.load_state_dict(weights)
    return model.to(device).eval(), sign_metadata(spec, hp["classes"], hp["glosses"], hp["clip_duration"])
