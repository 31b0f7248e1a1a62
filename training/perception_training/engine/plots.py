"""PNG reports of a run: per-epoch curves from metrics.csv rows, per-step losses, runs compared
side by side, and confusion matrices."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on robots and CI; must precede pyplot
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator
from torchmetrics.functional.classification import multiclass_confusion_matrix

MAX_LABELLED_CLASSES = 40  # beyond this, a confusion matrix drops tick labels and counts


@dataclass(frozen=True)
class Chart:
    """One PNG of per-epoch curves: ``keys`` on the left axis, ``scores`` (0..1) on a right one."""

    name: str
    keys: tuple[str, ...]
    ylabel: str
    title: str | None = None
    scores: tuple[str, ...] = ()


def draw_chart(rows: Sequence[dict[str, str]], chart: Chart, folder: Path) -> Path:
    """Draw ``chart`` from metrics.csv rows into ``folder / chart.name``; absent columns are skipped."""
    fig, axis = plt.subplots(figsize=(7, 4))
    lines = _plot(axis, rows, chart.keys)
    axis.set_ylabel(chart.ylabel)
    present = [key for key in chart.scores if key in rows[0]]
    if present:
        right = axis.twinx()
        lines += _plot(right, rows, present, marker="s")
        right.set_ylabel(", ".join(present))
        right.set_ylim(0, 1)
    axis.legend(lines, [line.get_label() for line in lines], loc="best")
    if chart.title:
        axis.set_title(chart.title)
    return save_figure(fig, folder / chart.name)


def plot_curves(rows: Sequence[dict[str, str]], path: Path) -> Path:
    """Every ``*loss*`` column on the left panel and every ``*acc*`` column on the right, per epoch."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for axis, (title, word) in zip(axes, (("loss", "loss"), ("accuracy", "acc")), strict=True):
        _plot(axis, rows, sorted(key for key in rows[0] if word in key))
        axis.set_title(title)
        axis.legend()
    return save_figure(fig, path)


def plot_step_loss(rows: Sequence[Mapping[str, Any]], path: Path) -> Path:
    """The training loss of every step (step_loss.csv rows: step, epoch, loss)."""
    fig, axis = plt.subplots(figsize=(7, 4))
    _plot_steps(axis, rows, "train loss")
    axis.set_title("training loss per step")
    return save_figure(fig, path)


def plot_loss_comparison(
    steps: Mapping[str, Sequence[Mapping[str, Any]]],
    epochs: Mapping[str, Sequence[dict[str, str]]],
    path: Path,
    title: str,
) -> Path:
    """One line per run (e.g. per optimizer): training loss per step on the left (step_loss.csv
    rows), validation loss per epoch on the right (metrics.csv rows)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for name, rows in steps.items():
        _plot_steps(left, rows, name)
    left.set_title("training loss per step")
    for name, rows in epochs.items():
        right.plot(*_columns(rows, "epoch", "val_loss"), marker="o", label=name)
    right.set_xlabel("epoch")
    right.set_ylabel("val_loss")
    right.set_title("validation loss per epoch")
    right.xaxis.set_major_locator(MaxNLocator(integer=True))
    right.grid(alpha=0.3)
    for axis in (left, right):
        axis.legend()
    fig.suptitle(title)
    return save_figure(fig, path)


def confusion_png(
    logits: torch.Tensor, labels: torch.Tensor, classes: Sequence[str], path: Path, title: str
) -> Path:
    """Row-normalised confusion matrix of ``(N, C)`` logits against labels."""
    counts = multiclass_confusion_matrix(logits.float().cpu(), labels.cpu(), len(classes))
    return plot_confusion(counts.numpy(), classes, path, title)


def plot_confusion(counts: np.ndarray, classes: Sequence[str], path: Path, title: str) -> Path:
    """Row-normalised ``C x C`` counts (rows true, columns predicted), counts in the cells when few."""
    totals = counts.sum(axis=1, keepdims=True)
    rates = np.divide(counts, totals, out=np.zeros(counts.shape, dtype=float), where=totals > 0)
    n = len(classes)
    size = min(4 + 0.5 * n, 16)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    if n <= MAX_LABELLED_CLASSES:
        ax.set_xticks(range(n), classes, rotation=45, ha="right")
        ax.set_yticks(range(n), classes)
        for (row, col), count in np.ndenumerate(counts):
            colour = "white" if rates[row, col] > 0.5 else "black"
            ax.text(col, row, str(count), ha="center", va="center", color=colour, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    return save_figure(fig, path)


def _plot(axis: Axes, rows: Sequence[dict[str, str]], keys: Sequence[str], marker: str = "o") -> list:
    epochs = [int(row["epoch"]) for row in rows]
    lines = []
    for key in keys:
        if key in rows[0]:
            lines += axis.plot(epochs, [_number(row.get(key)) for row in rows], marker=marker, label=key)
    axis.set_xlabel("epoch")
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.grid(alpha=0.3)
    return lines


def _plot_steps(axis: Axes, rows: Sequence[Mapping[str, Any]], label: str) -> None:
    axis.plot(*_columns(rows, "step", "loss"), linewidth=0.8, label=label)
    axis.set_xlabel("step")
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_ylabel("loss")
    axis.grid(alpha=0.3)


def _columns(rows: Sequence[Mapping[str, Any]], x: str, y: str) -> tuple[list[float], list[float]]:
    return [_number(row.get(x)) for row in rows], [_number(row.get(y)) for row in rows]


def save_figure(fig: plt.Figure, path: Path) -> Path:
    """Lay out, write at 100 dpi and close ``fig``."""
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _number(value: str | float | None) -> float:
    return float(value) if value not in ("", None) else float("nan")
