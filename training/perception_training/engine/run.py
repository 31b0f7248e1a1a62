"""The standard Lightning Trainer of a run folder: TensorBoard, best/last checkpoints, resume."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import TensorBoardLogger


@dataclass(frozen=True)
class RunPaths:
    """Where a run's outputs go, all inside ``root`` (output_dir/experiment_name)."""

    root: Path

    @property
    def best_ckpt(self) -> Path:
        return self.root / "best.ckpt"

    @property
    def last_ckpt(self) -> Path:
        return self.root / "last.ckpt"

    @property
    def metrics_csv(self) -> Path:
        return self.root / "metrics.csv"

    @property
    def curves_png(self) -> Path:
        return self.root / "curves.png"

    @property
    def confusion_png(self) -> Path:
        return self.root / "confusion_matrix.png"

    @property
    def tensorboard(self) -> Path:
        return self.root / "tensorboard"


def make_trainer(
    paths: RunPaths,
    epochs: int,
    monitor: str,
    mode: str,
    callbacks: Sequence[L.Callback] = (),
    precision: str = "32-true",
    devices: str | int = "auto",
) -> L.Trainer:
    """A Trainer that logs to TensorBoard and keeps ``best.ckpt`` (by ``monitor``) and ``last.ckpt``."""
    best = ModelCheckpoint(
        dirpath=paths.root,
        filename="best",
        monitor=monitor,
        mode=mode,
        save_top_k=1,
        enable_version_counter=False,  # overwrite best.ckpt, never best-v1.ckpt
    )
    # A checkpoint of its own for last.ckpt: Lightning 2.6's save_last only writes when the best
    # one did, so a run whose metric stalled left a stale last.ckpt to resume from.
    last = ModelCheckpoint(dirpath=paths.root, filename="last", save_top_k=1, enable_version_counter=False)
    return L.Trainer(
        default_root_dir=paths.root,
        max_epochs=epochs,
        accelerator="auto",
        devices=int(devices) if str(devices).isdigit() else devices,
        precision=precision,
        logger=TensorBoardLogger(save_dir=paths.tensorboard, name="", version=""),
        callbacks=[best, last, *callbacks],
        log_every_n_steps=1,
    )


def resume_from(paths: RunPaths, resume: bool) -> Path | None:
    """``last.ckpt`` when resuming (SystemExit naming it when it is missing), else None."""
    if not resume:
        return None
    if not paths.last_ckpt.is_file():
        raise SystemExit(f"--resume: {paths.last_ckpt} does not exist; run without --resume first")
    return paths.last_ckpt
