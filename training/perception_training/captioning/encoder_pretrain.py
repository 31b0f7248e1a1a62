"""``perception-train caption-encoder``: pretrain the captioner's MobileNetV3-Small on object boxes.

No ImageNet weights are available offline, and captions alone teach a from-scratch encoder thin
objects (a knife is a few pixels wide at 112 px) very slowly. This stage trains the same encoder
(``perception.core.caption_model.CaptionEncoder``) on a YOLO dataset: every cell of its output grid
predicts which classes overlap it, and the image level (max over cells) predicts which classes
are in the picture. The result is a torchvision-style ``features.*`` state (``encoder.safetensors``,
an artifact with metadata) that ``perception-train caption --encoder-weights`` starts from, with
the issue's frozen-then-fine-tuned schedule.
"""

from __future__ import annotations

import argparse
import csv
import logging
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn
from torchmetrics.classification import MultilabelAveragePrecision
from tqdm import tqdm

from perception.core.artifacts import code_version, save_artifact
from perception.core.caption_model import ENCODER_CHANNELS, CaptionEncoder
from perception.core.captioner import preprocess
from perception.core.devices import resolve_device
from perception_training.captioning.cli import parse_size, synthetic_info
from perception_training.captioning.plots import plot_history
from perception_training.captioning.train import recalibrate_batchnorm
from perception_training.captioning.yolo_grid import YoloSplit, grid_targets, read_yolo_dataset

LOG = logging.getLogger(__name__)
ARTIFACT_KIND = "caption_encoder"
_LOAD_CHUNK = 256  # images decoded and normalised at a time


@dataclass
class PretrainConfig:
    data_yaml: Path
    out_dir: Path
    epochs: int = 20
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-4
    image_size: int = 112
    flip: bool = True  # mirror half of each batch (boxes are mirrored with it)
    device: str = "auto"
    seed: int = 0
    command: str = ""
    dataset: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Tensors:
    images: torch.Tensor  # (N, 3, S, S) normalised
    cells: torch.Tensor  # (N, cells, classes)
    present: torch.Tensor  # (N, classes)


def pretrain(config: PretrainConfig) -> Path:
    """Train, evaluate per-class AP on val every epoch, write ``OUT/encoder.safetensors``."""
    torch.manual_seed(config.seed)
    out_dir = Path(config.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    device = resolve_device(config.device)
    data = read_yolo_dataset(config.data_yaml)
    encoder = CaptionEncoder()
    grid = _grid(encoder, config.image_size)
    train, val = (
        _load(data.splits[name], len(data.classes), grid, config.image_size, name)
        for name in ("train", "val")
    )
    LOG.info(
        "%d train / %d val images, %s grid, classes %s",
        len(train.images),
        len(val.images),
        grid,
        data.classes,
    )
    head = nn.Linear(ENCODER_CHANNELS, len(data.classes))
    model = nn.ModuleDict({"encoder": encoder, "head": head}).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps = config.epochs * -(-len(train.images) // config.batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, config.lr, total_steps=steps, pct_start=0.15)
    generator = torch.Generator().manual_seed(config.seed)
    history: list[dict[str, float]] = []
    for epoch in range(1, config.epochs + 1):
        began = time.monotonic()
        model.train()
        order = torch.randperm(len(train.images), generator=generator)
        total = 0.0
        progress = tqdm(order.split(config.batch_size), desc=f"epoch {epoch}/{config.epochs}", leave=False)
        for batch in progress:
            samples = _mirrored(train, batch, grid, generator) if config.flip else _subset(train, batch)
            loss, _ = _loss_and_scores(model, samples, device)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            total += loss.item() * len(batch)
            progress.set_postfix(loss=f"{loss.item():.3f}")
        recalibrate_batchnorm(encoder, train.images, config.batch_size, device)
        val_loss, ap = _evaluate(model, val, config.batch_size, device)
        row = {
            "epoch": epoch,
            "train_loss": round(total / len(train.images), 4),
            "val_loss": round(val_loss, 4),
            "mAP": round(float(ap.mean()), 4),
            **{f"AP_{name}": round(float(value), 4) for name, value in zip(data.classes, ap, strict=True)},
            "seconds": round(time.monotonic() - began, 1),
        }
        history.append(row)
        LOG.info("epoch %d: %s", epoch, ", ".join(f"{key}={value}" for key, value in row.items()))
        _write_csv(history, out_dir / "metrics.csv")
        plot_history(
            history, out_dir / "loss_curve.png", "mAP", "caption encoder pretraining", "binary cross-entropy"
        )
    return save_artifact(
        out_dir / "encoder.safetensors",
        {f"features.{name}": tensor for name, tensor in encoder.features.state_dict().items()},
        {
            "kind": ARTIFACT_KIND,
            "architecture": "mobilenet_v3_small_features",
            "input_size": [config.image_size, config.image_size],
            "grid": list(grid),
            "classes": data.classes,
            "metrics": {"val": history[-1]},
            "history": history,
            "command": config.command,
            "dataset": config.dataset,
            "training": {
                key: str(value) if isinstance(value, Path) else value for key, value in asdict(config).items()
            },
            "code_version": code_version(),
        },
    )


def _loss_and_scores(model: nn.ModuleDict, data: _Tensors, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-cell + image-level BCE, and the image-level logits (max over cells)."""
    cells = model["head"](model["encoder"](data.images.to(device)))
    scores = cells.amax(dim=1)
    bce = nn.functional.binary_cross_entropy_with_logits
    return bce(cells, data.cells.to(device)) + bce(scores, data.present.to(device)), scores


def _subset(data: _Tensors, batch: torch.Tensor) -> _Tensors:
    return _Tensors(data.images[batch], data.cells[batch], data.present[batch])


def _mirrored(
    data: _Tensors, batch: torch.Tensor, grid: tuple[int, int], generator: torch.Generator
) -> _Tensors:
    """The batch with a random half mirrored left-right, grid targets mirrored to match.

    Presence is mirror-invariant; the mirror doubles the distinct images an epoch shows (the
    encoder overfit 16000 synthetic scenes after ~14 epochs without it).
    """
    images, cells = data.images[batch].clone(), data.cells[batch].clone()
    flip = torch.rand(len(batch), generator=generator) < 0.5
    images[flip] = images[flip].flip(-1)
    cells[flip] = cells[flip].unflatten(1, grid).flip(2).flatten(1, 2)
    return _Tensors(images, cells, data.present[batch])


@torch.no_grad()
def _evaluate(model: nn.ModuleDict, data: _Tensors, batch_size: int, device: str) -> tuple[float, np.ndarray]:
    """Validation loss and per-class average precision of the image-level presence scores."""
    model.eval()
    classes = data.present.size(1)
    metric = MultilabelAveragePrecision(num_labels=classes, average=None)
    total = 0.0
    for batch in torch.arange(len(data.images)).split(batch_size):
        loss, scores = _loss_and_scores(model, _subset(data, batch), device)
        total += float(loss) * len(batch)
        metric.update(torch.sigmoid(scores).cpu(), data.present[batch].long())
    return total / len(data.images), np.nan_to_num(metric.compute().numpy(), nan=0.0)


def _grid(encoder: CaptionEncoder, image_size: int) -> tuple[int, int]:
    with torch.no_grad():
        size = encoder.features(torch.zeros(1, 3, image_size, image_size)).shape[-2:]
    return int(size[0]), int(size[1])


def _load(split: YoloSplit, classes: int, grid: tuple[int, int], image_size: int, name: str) -> _Tensors:
    chunks = []
    for start in tqdm(range(0, len(split.images), _LOAD_CHUNK), desc=f"load {name}", leave=False):
        frames = []
        for path in split.images[start : start + _LOAD_CHUNK]:
            frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if frame is None:
                raise FileNotFoundError(f"{path} is missing or not an image; regenerate or remove it")
            frames.append(frame)
        chunks.append(preprocess(frames, image_size))
    cells = torch.from_numpy(np.stack([grid_targets(boxes, classes, grid) for boxes in split.boxes]))
    return _Tensors(torch.cat(chunks), cells, cells.amax(dim=1))


def _write_csv(history: list[dict[str, float]], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)


def _arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, help="YOLO data.yaml (train and val splits)")
    parser.add_argument(
        "--synthetic",
        metavar="TRAIN,VAL",
        help="write a synthetic YOLO dataset of caption scenes to OUT/data",
    )
    parser.add_argument("--synthetic-seed", type=int, default=0)
    parser.add_argument(
        "--synthetic-size", default="320x240", metavar="WxH", help="render size of synthetic scenes"
    )
    parser.add_argument("--out", type=Path, default=Path("runs/caption_encoder"))
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3, help="peak of the one-cycle schedule (AdamW)")
    parser.add_argument("--image-size", type=int, default=112, help="the captioner's --image-size")
    parser.add_argument("--no-flip", action="store_true", help="no left-right mirroring of training images")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda[:N] | mps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads", type=int, help="torch CPU threads (1 is fastest on a busy 2-core machine)"
    )
    return parser


def _synthetic(args: argparse.Namespace) -> Path:
    from perception_training.synthetic.writers.yolo import write_yolo_dataset

    try:
        train, val = (int(count) for count in args.synthetic.split(","))
    except ValueError as error:
        raise SystemExit(f"--synthetic wants TRAIN,VAL image counts, got {args.synthetic!r}") from error
    counts = {"train": train, "val": val}
    return write_yolo_dataset(
        args.out / "data", args.synthetic_seed, counts, parse_size(args.synthetic_size), ("caption",)
    )


def main(argv: Sequence[str] | None = None, prog: str = "perception-train caption-encoder") -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _arguments().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    data_yaml = _synthetic(args) if args.synthetic else args.data
    if data_yaml is None:
        raise SystemExit("caption-encoder: give --data data.yaml or --synthetic TRAIN,VAL")
    config = PretrainConfig(
        data_yaml=data_yaml,
        out_dir=args.out,
        epochs=args.epochs,
        batch_size=args.batch,
        lr=args.lr,
        image_size=args.image_size,
        flip=not args.no_flip,
        device=args.device,
        seed=args.seed,
        command=shlex.join([*prog.split(), *argv]),
        dataset={"data": str(data_yaml), **synthetic_info(data_yaml.parent)},
    )
    print(f"caption encoder artifact: {pretrain(config)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
