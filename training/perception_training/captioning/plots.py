"""Training curves as a PNG: people read a loss curve faster than a CSV."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator


def plot_history(
    history: list[dict[str, float]],
    path: Path,
    score: str = "BLEU-4",
    title: str = "captioner training",
    loss_name: str = "cross-entropy",
) -> Path:
    """Train/val loss per epoch, with a validation ``score`` (0..1) on a second axis when measured."""
    epochs = [row["epoch"] for row in history]
    figure, loss_axis = plt.subplots(figsize=(7, 4))
    loss_axis.plot(epochs, [row["train_loss"] for row in history], marker="o", label="train loss")
    loss_axis.plot(epochs, [row["val_loss"] for row in history], marker="o", label="val loss")
    loss_axis.set_xlabel("epoch")
    loss_axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    loss_axis.set_ylabel(loss_name)
    lines, labels = loss_axis.get_legend_handles_labels()
    if all(score in row for row in history):
        bleu_axis = loss_axis.twinx()
        bleu_axis.plot(
            epochs, [row[score] for row in history], color="tab:green", marker="s", label=f"val {score}"
        )
        bleu_axis.set_ylabel(score)
        bleu_axis.set_ylim(0, 1)
        more_lines, more_labels = bleu_axis.get_legend_handles_labels()
        lines, labels = lines + more_lines, labels + more_labels
    loss_axis.legend(lines, labels, loc="upper right")
    loss_axis.set_title(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
