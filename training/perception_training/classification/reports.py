"""Files a person reads after a run: metrics CSV, curves, per-class tables, confusion matrix,
predictions, and plots of the dataset itself."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on robots and CI; must precede pyplot
import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from perception_training.classification.evaluation import Evaluation
from perception_training.classification.readers import ClassificationData, Sample

MAX_SIZE_SAMPLES = 2000  # image headers read per split for the size histogram
MAX_LABELLED_CLASSES = 40  # beyond this, plots drop per-class tick labels


def append_csv(path: Path, row: dict[str, object]) -> None:
    """Append ``row`` to a CSV file, writing the header when the file is new."""
    new = not path.exists()
    with path.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)


def read_csv(path: Path) -> list[dict[str, str]]:
    """All rows of a CSV file (empty when it does not exist yet)."""
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def write_rows(path: Path, rows: Sequence[dict[str, object]]) -> None:
    """Write ``rows`` (dicts with the same keys) as a fresh CSV file."""
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def per_class_markdown(rows: Sequence[dict[str, object]]) -> str:
    """A Markdown table of per-class rows (class, images, accuracy, loss)."""
    lines = ["| class | images | accuracy | loss |", "|---|---:|---:|---:|"]
    for row in rows:
        acc = "-" if row["accuracy"] is None else f"{row['accuracy']:.1%}"
        loss = "-" if row["loss"] is None else f"{row['loss']:.3f}"
        lines.append(f"| {row['class']} | {row['images']} | {acc} | {loss} |")
    return "\n".join(lines) + "\n"


def write_predictions(
    path: Path, evaluation: Evaluation, samples: Sequence[Sample], classes: Sequence[str], split: str
) -> None:
    """``best_test_preds.csv``: file, true class (blank when unknown), prediction, top-5."""
    probabilities = evaluation.logits.softmax(dim=1)
    k = min(5, len(classes))
    scores, ids = probabilities.topk(k, dim=1)
    rows = []
    for row, index in enumerate(evaluation.indices.tolist()):
        sample = samples[index]
        rows.append(
            {
                "split": split,
                "path": str(sample.path),
                "true": classes[sample.label] if sample.label >= 0 else "",
                "pred": classes[int(ids[row, 0])],
                "score": f"{float(scores[row, 0]):.4f}",
                "correct": "" if sample.label < 0 else int(sample.label == int(ids[row, 0])),
                f"top{k}": " ".join(classes[int(i)] for i in ids[row]),
            }
        )
    write_rows(path, rows)


def plot_curves(metrics: Sequence[dict[str, str]], out_dir: Path) -> list[Path]:
    """``curves_loss.png`` and ``curves_accuracy.png`` from metrics.csv rows."""
    epochs = [int(r["epoch"]) for r in metrics]
    written = []
    for name, keys in (
        ("loss", ("train_loss", "val_loss")),
        ("accuracy", ("train_acc", "val_top1", "val_top5")),
    ):
        fig, ax = plt.subplots(figsize=(6, 4))
        for key in keys:
            ax.plot(epochs, [float(r[key]) for r in metrics], marker="o", label=key)
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend()
        written.append(_save(fig, out_dir / f"curves_{name}.png"))
    return written


def plot_confusion(evaluation: Evaluation, classes: Sequence[str], path: Path, title: str) -> Path:
    """Row-normalised confusion matrix with counts written in the cells for small class sets."""
    counts = evaluation.confusion().numpy()
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
    return _save(fig, path)


def plot_dataset(data: ClassificationData, out_dir: Path) -> list[Path]:
    """Image-size histogram, images per split, and images per class and split."""
    rng = np.random.default_rng(0)
    fig, ax = plt.subplots(figsize=(6, 4))
    for split, samples in data.splits.items():
        picked = rng.permutation(len(samples))[:MAX_SIZE_SAMPLES]
        sizes = np.array([_image_size(samples[i].path) for i in picked])
        if len(sizes):
            ax.hist(np.sqrt(sizes[:, 0] * sizes[:, 1]), bins=30, alpha=0.5, label=f"{split} (n={len(sizes)})")
    ax.set_xlabel("image size, sqrt(width x height) px")
    ax.set_ylabel("images")
    ax.legend()
    written = [_save(fig, out_dir / "dataset_image_sizes.png")]

    fig, ax = plt.subplots(figsize=(5, 4))
    names = list(data.splits)
    bars = ax.bar(names, [len(data.splits[s]) for s in names])
    ax.bar_label(bars)
    ax.set_ylabel("images")
    ax.set_title(f"{data.root.name}: images per split")
    written.append(_save(fig, out_dir / "dataset_splits.png"))

    fig, ax = plt.subplots(figsize=(min(4 + 0.3 * len(data.classes), 24), 4))
    positions = np.arange(len(data.classes))
    labelled = [s for s in names if data.labelled(s)]
    width = 0.8 / max(len(labelled), 1)
    for offset, split in enumerate(labelled):
        counts = np.bincount([s.label for s in data.splits[split]], minlength=len(data.classes))
        ax.bar(positions + offset * width, counts, width, label=split)
    if len(data.classes) <= MAX_LABELLED_CLASSES:
        ax.set_xticks(positions + 0.4 - width / 2, data.descriptions or data.classes, rotation=45, ha="right")
    ax.set_ylabel("images")
    ax.legend()
    written.append(_save(fig, out_dir / "dataset_classes.png"))
    return written


def _image_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:  # reads the header only
        return image.size


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def format_metrics(values: Iterable[tuple[str, float]]) -> str:
    """``name=value`` pairs for log lines."""
    return " ".join(f"{name}={value:.4f}" for name, value in values)
