"""Classification reports a person reads after a run: per-class tables, predictions, and plots
of the dataset itself (metrics.csv, curves and the confusion matrix come from the engine)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on robots and CI; must precede pyplot
import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from perception_training.classification.evaluation import Evaluation
from perception_training.classification.readers import ClassificationData, Sample
from perception_training.engine.plots import MAX_LABELLED_CLASSES, save_figure
from perception_training.engine.tables import markdown_table, write_rows

MAX_SIZE_SAMPLES = 2000  # image headers read per split for the size histogram


def per_class_markdown(rows: Sequence[dict[str, object]]) -> str:
    """A Markdown table of per-class rows (class, images, accuracy, loss)."""
    cells = [
        [row["class"], row["images"], _or_dash(row["accuracy"], ".1%"), _or_dash(row["loss"], ".3f")]
        for row in rows
    ]
    columns = ("class", "images", "accuracy", "loss")
    return "\n".join(markdown_table(columns, cells, right=columns[1:])) + "\n"


def _or_dash(value: object, spec: str) -> str:
    return "-" if value is None else format(value, spec)


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
    written = [save_figure(fig, out_dir / "dataset_image_sizes.png")]

    fig, ax = plt.subplots(figsize=(5, 4))
    names = list(data.splits)
    bars = ax.bar(names, [len(data.splits[s]) for s in names])
    ax.bar_label(bars)
    ax.set_ylabel("images")
    ax.set_title(f"{data.root.name}: images per split")
    written.append(save_figure(fig, out_dir / "dataset_splits.png"))

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
    written.append(save_figure(fig, out_dir / "dataset_classes.png"))
    return written


def _image_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:  # reads the header only
        return image.size
