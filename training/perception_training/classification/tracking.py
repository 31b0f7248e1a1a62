"""Experiment tracking: TensorBoard always, Weights & Biases when installed and asked for."""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path
from typing import Any

from torch.utils.tensorboard import SummaryWriter

LOG = logging.getLogger(__name__)


class Tracker:
    """Log scalars per epoch to ``run_dir/tensorboard`` and, optionally, an (offline) wandb run."""

    def __init__(self, run_dir: Path, config: dict[str, Any], use_wandb: bool) -> None:
        self.tensorboard = SummaryWriter(log_dir=str(run_dir / "tensorboard"))
        self.wandb_run = None
        if use_wandb:
            if importlib.util.find_spec("wandb") is None:
                LOG.warning("wandb is not installed; logging to TensorBoard only (pip install wandb)")
            else:
                import wandb

                mode = os.environ.get("WANDB_MODE", "offline")
                self.wandb_run = wandb.init(
                    project="perception", dir=str(run_dir), config=config, mode=mode, name=run_dir.name
                )

    def log(self, step: int, values: dict[str, float]) -> None:
        for name, value in values.items():
            self.tensorboard.add_scalar(name, value, step)
        if self.wandb_run is not None:
            self.wandb_run.log({"epoch": step, **values})

    def close(self) -> None:
        self.tensorboard.close()
        if self.wandb_run is not None:
            self.wandb_run.finish()
