"""Optimizers and learning-rate schedules (per step or per epoch) every trainer picks from by name."""

from __future__ import annotations

import math
from collections.abc import Iterable
from functools import partial
from typing import Any

import torch

OPTIMIZERS = ("adam", "adamw", "nadam", "sgd")
SCHEDULES = ("cosine", "constant")
EPOCH_SCHEDULES = ("cosine", "step", "none")


def make_optimizer(
    name: str, params: Iterable[Any], lr: float, weight_decay: float = 0.0, momentum: float = 0.9
) -> torch.optim.Optimizer:
    """``name`` (one of :data:`OPTIMIZERS`) over ``params`` (tensors or parameter groups)."""
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    makers = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "nadam": torch.optim.NAdam}
    if name not in makers:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    return makers[name](params, lr=lr, weight_decay=weight_decay)


def warmup_cosine(step: int, warmup_steps: int, total_steps: int) -> float:
    """LR factor: linear warm-up to 1, then cosine decay to 0 at ``total_steps``."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))


def per_step_schedule(
    optimizer: torch.optim.Optimizer, total_steps: int, warmup_steps: int = 0, kind: str = "cosine"
) -> dict[str, Any]:
    """A Lightning ``lr_scheduler`` entry stepped after every optimizer step: :func:`warmup_cosine`
    over ``total_steps``, or a constant rate (``kind="constant"``). Every parameter group keeps
    its own base rate, so a backbone can learn slower than its head."""
    if kind not in SCHEDULES:
        raise ValueError(f"unknown learning-rate schedule {kind!r}; choose {' or '.join(SCHEDULES)}")
    factor = partial(warmup_cosine, warmup_steps=warmup_steps, total_steps=total_steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor if kind == "cosine" else _constant)
    return {"scheduler": scheduler, "interval": "step"}


def per_epoch_schedule(optimizer: torch.optim.Optimizer, epochs: int, kind: str) -> dict[str, Any] | None:
    """A Lightning ``lr_scheduler`` entry stepped after every epoch: cosine decay to 0 at ``epochs``,
    ``step`` (a tenth of the rate after every third of the epochs), or None for ``none`` (constant).
    torch's own CosineAnnealingLR and StepLR: checkpoints of earlier sign runs hold their state."""
    if kind == "none":
        return None
    if kind == "step":
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=max(1, epochs // 3), gamma=0.1)
    elif kind == "cosine":
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    else:
        raise ValueError(f"unknown learning-rate schedule {kind!r}; choose {', '.join(EPOCH_SCHEDULES)}")
    return {"scheduler": scheduler, "interval": "epoch"}


def _constant(step: int) -> float:
    return 1.0
