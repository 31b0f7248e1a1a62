"""Lightning callbacks for any classifier-style trainer: artifact on best, metrics.csv, curves."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import lightning as L
import torch

from perception.core.artifacts import code_version, save_artifact
from perception_training.classification.reports import append_csv, read_csv
from perception_training.engine.plots import plot_curves

LOG = logging.getLogger(__name__)


@runtime_checkable
class ArtifactSource(Protocol):
    """What a LightningModule provides so :class:`ArtifactExport` can save it."""

    def artifact_tensors(self) -> dict[str, torch.Tensor]:
        """The weights the inference side loads (no optimizer state)."""
        ...

    def artifact_metadata(self) -> dict[str, Any]:
        """kind, architecture, classes and whatever inference needs to preprocess."""
        ...


def epoch_metrics(trainer: L.Trainer) -> dict[str, float]:
    """The trainer's current scalar metrics as plain floats, names sorted."""
    return {
        name: float(value) for name, value in sorted(trainer.callback_metrics.items()) if value.numel() == 1
    }


class ArtifactExport(L.Callback):
    """Write the node artifact whenever ``monitor`` improves: weights, metadata, metrics, command.

    The best score travels in the Lightning checkpoint, so a resumed run only overwrites the
    artifact with a better model. Written at the end of the training epoch, after its validation:
    at validation end the epoch's training metrics are not aggregated yet (those of the epoch
    before would be recorded).
    """

    def __init__(
        self, path: Path, command: str, monitor: str = "val_acc", mode: str = "max", extra: dict | None = None
    ) -> None:
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        self.path, self.command, self.monitor, self.mode = Path(path), command, monitor, mode
        self.extra = extra or {}
        self.best = -math.inf if mode == "max" else math.inf

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        metrics = epoch_metrics(trainer)
        score = metrics.get(self.monitor)
        if score is None or not (score > self.best if self.mode == "max" else score < self.best):
            return
        if not isinstance(pl_module, ArtifactSource):
            raise TypeError(f"{type(pl_module).__name__} lacks artifact_tensors/artifact_metadata")
        self.best = score
        metadata = {
            **pl_module.artifact_metadata(),
            **self.extra,
            "metrics": {**metrics, "epoch": trainer.current_epoch},
            "command": self.command,
            "code_version": code_version(),
        }
        save_artifact(self.path, pl_module.artifact_tensors(), metadata)
        LOG.info("epoch %d: %s=%.4f, artifact -> %s", trainer.current_epoch, self.monitor, score, self.path)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best = float(state_dict["best"])


class MetricsCsv(L.Callback):
    """One row per finished epoch in ``path``: epoch, learning rate and every logged scalar."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        learning_rate = trainer.optimizers[0].param_groups[0]["lr"] if trainer.optimizers else float("nan")
        row = {"epoch": trainer.current_epoch, "lr": learning_rate, **epoch_metrics(trainer)}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        append_csv(self.path, row)


class CurvePlots(L.Callback):
    """At the end of fitting, draw the loss and accuracy curves of ``metrics_csv`` into ``path``."""

    def __init__(self, metrics_csv: Path, path: Path) -> None:
        self.metrics_csv, self.path = Path(metrics_csv), Path(path)

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        rows = read_csv(self.metrics_csv)
        if trainer.is_global_zero and rows:
            plot_curves(rows, self.path)
