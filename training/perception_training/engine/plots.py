"""PNG reports of a run: loss/accuracy curves from metrics.csv rows, and a confusion matrix."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on robots and CI; must precede pyplot
import matplotlib.pyplot as plt
import torch

from perception_training.classification.evaluation import Evaluation
from perception_training.classification.reports import plot_confusion


def plot_curves(rows: Sequence[dict[str, str]], path: Path) -> Path:
    """Every ``*loss*`` column on the left panel and every ``*acc*`` column on the right, per epoch."""
    epochs = [int(row["epoch"]) for row in rows]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, (title, word) in zip(axes, (("loss", "loss"), ("accuracy", "acc")), strict=True):
        for key in sorted(key for key in rows[0] if word in key):
            ax.plot(epochs, [_number(row[key]) for row in rows], marker="o", label=key)
        ax.set_xlabel("epoch")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def confusion_png(
    logits: torch.Tensor, labels: torch.Tensor, classes: Sequence[str], path: Path, title: str
) -> Path:
    """Row-normalised confusion matrix of ``(N, C)`` logits against labels (classification's plot)."""
    evaluation = Evaluation(logits.float().cpu(), labels.cpu(), torch.arange(len(labels)))
    return plot_confusion(evaluation, classes, path, title)


def _number(text: str) -> float:
    return float(text) if text not in ("", None) else float("nan")
