"""Lightning callbacks every trainer shares: the node artifact, metrics.csv, curve PNGs, the loss of
every training step, precise BatchNorm, and stopping a session early. Files are written on global
rank 0 only, so a distributed run writes each once."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import lightning as L
import torch
from lightning.pytorch.trainer.states import TrainerFn
from torch.optim.swa_utils import update_bn

from perception.core.artifacts import code_version, save_artifact
from perception_training.engine.plots import Chart, draw_chart, plot_curves, plot_step_loss
from perception_training.engine.tables import append_row, read_rows, write_rows

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
    """The trainer's current scalar metrics as plain floats, names sorted, to float32's 7 digits
    (Lightning keeps logged values as float32: 0.1 rather than 0.10000000149011612)."""
    return {
        name: float(f"{float(value):.7g}")
        for name, value in sorted(trainer.callback_metrics.items())
        if value.numel() == 1
    }


class ArtifactExport(L.Callback):
    """Write the node artifact whenever ``monitor`` improves (every epoch when it is None):
    weights, metadata, metrics, command.

    Whether to write is decided when validation ends, before Lightning checkpoints the epoch,
    so the best score in ``last.ckpt`` is this epoch's and a resumed run only overwrites the
    artifact with a better model. The file is written at the end of the training epoch: at
    validation end the epoch's training metrics are not aggregated yet (those of the epoch
    before would be recorded). ``epoch_offset`` 1 numbers epochs from one; ``history`` (a
    metrics.csv that :class:`MetricsCsv`, listed before this callback, fills) adds every
    epoch's row to the metadata.
    """

    def __init__(
        self,
        path: Path,
        command: str,
        monitor: str | None = "val_acc",
        mode: str = "max",
        extra: dict | None = None,
        epoch_offset: int = 0,
        history: Path | None = None,
    ) -> None:
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        self.path, self.command, self.monitor, self.mode = Path(path), command, monitor, mode
        self.extra, self.epoch_offset, self.history = extra or {}, epoch_offset, history
        self.best = -math.inf if mode == "max" else math.inf
        self.due = False

    @property
    def state_key(self) -> str:
        return self._generate_state_key(path=str(self.path))

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or trainer.state.fn != TrainerFn.FITTING:
            return
        if self.monitor is None:
            self.due = True
            return
        score = trainer.callback_metrics.get(self.monitor)
        if score is not None and (score > self.best if self.mode == "max" else score < self.best):
            self.best, self.due = float(score), True

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        due, self.due = self.due, False
        if not due or not trainer.is_global_zero:
            return
        if not isinstance(pl_module, ArtifactSource):
            raise TypeError(f"{type(pl_module).__name__} lacks artifact_tensors/artifact_metadata")
        epoch = trainer.current_epoch + self.epoch_offset
        metadata = {
            **pl_module.artifact_metadata(),
            **self.extra,
            "metrics": {**epoch_metrics(trainer), "epoch": epoch},
            "command": self.command,
            "code_version": code_version(),
        }
        if self.history is not None:
            metadata["history"] = read_rows(self.history)
        save_artifact(self.path, pl_module.artifact_tensors(), metadata)
        LOG.info("epoch %d: artifact -> %s", epoch, self.path)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best = float(state_dict["best"])


class MetricsCsv(L.Callback):
    """One row per finished epoch in ``path``: epoch, learning rate, every logged scalar, seconds.

    The learning rate is the first parameter group's at the epoch's end, unless the module logs
    its own ``lr*`` values. ``epoch_offset`` 1 numbers epochs from one.
    """

    def __init__(self, path: Path, epoch_offset: int = 0) -> None:
        self.path, self.epoch_offset = Path(path), epoch_offset
        self.started = time.monotonic()

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.started = time.monotonic()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        metrics = epoch_metrics(trainer)
        row: dict[str, object] = {"epoch": trainer.current_epoch + self.epoch_offset}
        if trainer.optimizers and not any(name.startswith("lr") for name in metrics):
            row["lr"] = float(f"{trainer.optimizers[0].param_groups[0]['lr']:.7g}")
        row.update(metrics)
        row["seconds"] = round(time.monotonic() - self.started, 1)
        LOG.info("epoch %s: %s", row["epoch"], " ".join(f"{k}={v:.4g}" for k, v in metrics.items()))
        append_row(self.path, row)


class CurvePlots(L.Callback):
    """After every epoch, redraw the curves of ``metrics_csv``: ``charts`` into its folder, or
    every loss and accuracy column into ``path``. List it after :class:`MetricsCsv`."""

    def __init__(self, metrics_csv: Path, path: Path | None = None, charts: Sequence[Chart] = ()) -> None:
        self.metrics_csv, self.path, self.charts = Path(metrics_csv), path, tuple(charts)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        rows = read_rows(self.metrics_csv)
        if not trainer.is_global_zero or not rows:
            return
        if self.path is not None:
            plot_curves(rows, self.path)
        for chart in self.charts:
            draw_chart(rows, chart, self.metrics_csv.parent)


class StepLoss(L.Callback):
    """The training loss of every optimizer step (rank 0's batches) in ``csv_path`` (step, epoch
    counted from one, loss) and drawn into ``png_path``, both written after every epoch.

    The losses stay on the device until then (no synchronisation per step). A run that starts
    afresh, or resumes from a checkpoint, first drops the rows past the step it starts from.
    """

    def __init__(self, csv_path: Path, png_path: Path) -> None:
        self.csv_path, self.png_path = Path(csv_path), Path(png_path)
        self.steps: list[tuple[int, int, torch.Tensor]] = []

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.steps = []
        if trainer.is_global_zero and self.csv_path.exists():
            kept = [row for row in read_rows(self.csv_path) if int(row["step"]) <= trainer.global_step]
            write_rows(self.csv_path, kept, ("step", "epoch", "loss"))

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        loss = outputs.get("loss") if isinstance(outputs, Mapping) else outputs
        if trainer.is_global_zero and isinstance(loss, torch.Tensor):
            self.steps.append((trainer.global_step, trainer.current_epoch + 1, loss.detach().float()))

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero or not self.steps:
            return
        steps, epochs, losses = zip(*self.steps, strict=True)
        values = torch.stack(losses).cpu().tolist()
        new = [
            {"step": step, "epoch": epoch, "loss": float(f"{loss:.7g}")}
            for step, epoch, loss in zip(steps, epochs, values, strict=True)
        ]
        self.steps = []
        rows = [*read_rows(self.csv_path), *new]
        write_rows(self.csv_path, rows, ("step", "epoch", "loss"))
        plot_step_loss(rows, self.png_path)


class StopAfter(L.Callback):
    """End this session after epoch ``epoch`` (counted from one) with the schedule of the full run,
    so a later ``--resume`` continues exactly where an unbroken run would be."""

    def __init__(self, epoch: int | None) -> None:
        self.epoch = epoch

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.epoch is not None and trainer.current_epoch + 1 >= self.epoch:
            trainer.should_stop = True


@runtime_checkable
class BatchNormSource(Protocol):
    """What a LightningModule provides so :class:`PreciseBatchNorm` can re-estimate its statistics."""

    def batchnorm_batches(self) -> tuple[torch.nn.Module, Iterable[Any]] | None:
        """(the network whose BatchNorm layers to recompute, input batches), or None to skip."""
        ...


class PreciseBatchNorm(L.Callback):
    """Before every validation of a fit, recompute BatchNorm running statistics exactly over a fixed
    set of training batches (torch's ``update_bn``: cumulative averages, then the old momentum).

    Inference uses running statistics while training normalises with each batch's own; from
    scratch, the running averages lag the fast-changing weights (torchvision's MobileNetV3 uses
    momentum 0.01), and evaluation then sees a different network than training did.
    """

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or trainer.state.fn != TrainerFn.FITTING:
            return
        if not isinstance(pl_module, BatchNormSource):
            raise TypeError(f"{type(pl_module).__name__} lacks batchnorm_batches")
        source = pl_module.batchnorm_batches()
        if source is not None:
            network, batches = source
            with torch.no_grad():
                update_bn(batches, network, device=pl_module.device)
