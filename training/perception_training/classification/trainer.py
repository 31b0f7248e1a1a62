"""The one image-classification training loop (glass types, Tiny-ImageNet, anything in ImageFolder).

A run lives in ``<out>/<recipe>/<timestamp>/`` and holds ``latest.safetensors`` (weights +
optimizer, for resuming), ``best.safetensors`` (best validation top-1, the deployable
artifact), metrics.csv, curve PNGs, TensorBoard logs, dataset plots and, at the end, the
per-class table, confusion matrix and ``best_test_preds.csv`` of the best model.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.optim.swa_utils import update_bn
from torch.utils.data import DataLoader, Subset
from tqdm import tqdm

from perception.core.artifacts import code_version, read_metadata
from perception.core.classifier import (
    Preprocessing,
    build_classifier,
    classification_head,
    freeze_backbone,
    load_pretrained_backbone,
    unfreeze,
)
from perception.core.devices import resolve_device
from perception_training.classification import reports
from perception_training.classification.checkpoints import load_checkpoint, restore_optimizer, save_checkpoint
from perception_training.classification.datasets import SampleDataset
from perception_training.classification.evaluation import Evaluation, evaluate
from perception_training.classification.readers import ClassificationData
from perception_training.classification.recipes import TrainConfig
from perception_training.classification.tracking import Tracker
from perception_training.classification.transforms import (
    batch_mixer,
    eval_transform,
    progressive_strength,
    train_transform,
)

LOG = logging.getLogger(__name__)
LATEST, BEST = "latest.safetensors", "best.safetensors"


@dataclass
class RunResult:
    """Where a run wrote its files and how its best model scored."""

    run_dir: Path
    best: Path
    latest: Path
    metrics: dict[str, Any]


def new_run_dir(out: Path, task: str) -> Path:
    """``out/task/YYYYmmdd-HHMMSS`` (suffixed when two runs start in the same second)."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = out / task / stamp
    suffix = 1
    while run_dir.exists():
        run_dir = out / task / f"{stamp}-{suffix}"
        suffix += 1
    run_dir.mkdir(parents=True)
    return run_dir


def warmup_cosine(step: int, warmup_steps: int, total_steps: int) -> float:
    """LR factor: linear warm-up to 1, then cosine decay to 0 at ``total_steps``."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))


class ClassificationTrainer:
    """Trains ``config.architecture`` on ``data``; call :meth:`fit`."""

    def __init__(
        self,
        data: ClassificationData,
        config: TrainConfig,
        run_dir: Path,
        task: str,
        command: str,
        dataset_info: dict[str, Any] | None = None,
    ) -> None:
        self.data, self.config, self.run_dir, self.task, self.command = data, config, run_dir, task, command
        self.dataset_info = dataset_info or {}
        self.device = resolve_device(config.device)
        if config.threads > 0:
            torch.set_num_threads(config.threads)
        self.amp = config.amp and self.device.startswith("cuda")
        self.preprocessing = Preprocessing(config.image_size)
        torch.manual_seed(config.seed)  # the same initial weights for the same config
        self.model = build_classifier(config.architecture, len(data.classes), config.image_size).to(
            self.device
        )
        if config.pretrained:
            load_pretrained_backbone(self.model, config.pretrained)
        self.train_set = SampleDataset(data.splits["train"], eval_transform(self.preprocessing))
        self.generator = torch.Generator()
        self.train_loader = DataLoader(
            self.train_set,
            batch_size=config.batch_size,
            shuffle=True,
            drop_last=len(self.train_set) > config.batch_size,  # BatchNorm cannot train on 1 image
            num_workers=config.workers,
            generator=self.generator,
        )
        self.bn_loader = self._bn_loader()
        self.optimizer = self._make_optimizer()
        steps = config.epochs * len(self.train_loader)
        warmup = max(1, round(config.warmup_epochs * len(self.train_loader)))
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, partial(warmup_cosine, warmup_steps=warmup, total_steps=steps)
        )
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
        self.mixer = batch_mixer(len(data.classes), config.cutmix_alpha, config.mixup_alpha)
        self.start_epoch = 0
        self.best_top1 = -1.0

    def _bn_loader(self) -> DataLoader | None:
        """A fixed, seeded subset of clean training images for BatchNorm re-estimation."""
        count = min(self.config.bn_recalibration, len(self.train_set))
        if count <= 0:
            return None
        order = torch.randperm(len(self.train_set), generator=torch.Generator().manual_seed(self.config.seed))
        subset = Subset(
            SampleDataset(self.train_set.samples, eval_transform(self.preprocessing)), order[:count].tolist()
        )
        return DataLoader(subset, batch_size=self.config.batch_size, num_workers=self.config.workers)

    def _make_optimizer(self) -> torch.optim.Optimizer:
        """Two parameter groups so the head and the backbone can learn at different rates."""
        head_ids = {id(p) for p in classification_head(self.model).parameters()}
        head = [p for p in self.model.parameters() if id(p) in head_ids]
        backbone = [p for p in self.model.parameters() if id(p) not in head_ids]
        cfg = self.config
        groups = [
            {
                "params": backbone,
                "lr": cfg.lr if cfg.backbone_lr is None else cfg.backbone_lr,
                "name": "backbone",
            },
            {"params": head, "lr": cfg.lr, "name": "head"},
        ]
        if cfg.optimizer == "sgd":
            return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
        return torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)

    def resume(self, checkpoint: Path) -> None:
        """Continue from a run's ``latest`` checkpoint: weights, optimizer, schedule, epoch."""
        classes = read_metadata(checkpoint).get("classes")
        if classes != self.data.classes:
            raise ValueError(
                f"{checkpoint} was trained on classes {classes}, the dataset has "
                f"{self.data.classes}; resume with the dataset the run started with"
            )
        tensors, metadata = load_checkpoint(checkpoint, self.model)
        restore_optimizer(self.optimizer, tensors, metadata, checkpoint)
        training = metadata["training"]
        self.scheduler.load_state_dict(training["scheduler"])
        self.scaler.load_state_dict(training["scaler"])
        self.start_epoch = int(training["epoch"])
        self.best_top1 = float(training["best_top1"])
        LOG.info("resumed %s at epoch %d (best val top-1 %.4f)", checkpoint, self.start_epoch, self.best_top1)

    def fit(self, stop_after: int | None = None) -> RunResult:
        """Train the remaining epochs (or up to epoch ``stop_after``), then report on the best checkpoint.

        Stopping early keeps the schedule of the full run, so a later resume continues it exactly.
        """
        (self.run_dir / "run.json").write_text(
            json.dumps({"task": self.task, "command": self.command, "config": asdict(self.config)}, indent=2)
        )
        if self.start_epoch == 0:
            reports.plot_dataset(self.data, self.run_dir)
        val_loader = self._eval_loader("val")
        tracker = Tracker(self.run_dir, asdict(self.config), self.config.wandb)
        try:
            for epoch in range(self.start_epoch, min(stop_after or self.config.epochs, self.config.epochs)):
                self._epoch(epoch, val_loader, tracker)
        finally:
            tracker.close()
        return self._final_report()

    def _epoch(self, epoch: int, val_loader: DataLoader, tracker: Tracker) -> None:
        cfg = self.config
        started = time.perf_counter()
        torch.manual_seed(cfg.seed + epoch)  # same augmentations and mixing whether resumed or not
        self.generator.manual_seed(cfg.seed + epoch)
        strength = progressive_strength(epoch, cfg.epochs, cfg.aug_start, cfg.aug_end)
        self.train_set.transform = train_transform(self.preprocessing, strength, seed=cfg.seed + epoch)
        frozen = epoch < cfg.freeze_epochs
        (freeze_backbone if frozen else unfreeze)(self.model)
        lr_backbone = 0.0 if frozen else self.optimizer.param_groups[0]["lr"]
        lr_head = self.optimizer.param_groups[1]["lr"]
        train_loss, train_acc = self._train_one_epoch(epoch)
        if self.bn_loader is not None:
            with torch.no_grad():
                update_bn(self.bn_loader, self.model, device=self.device)
        val = evaluate(self.model, val_loader, self.device, self.amp, "validate").summary()
        row = {
            "epoch": epoch + 1,
            "aug_strength": round(strength, 4),
            "lr_backbone": lr_backbone,  # at the epoch's first step
            "lr_head": lr_head,
            "train_loss": train_loss,
            "train_acc": train_acc,
            "val_loss": val["loss"],
            "val_top1": val["top1"],
            "val_top5": val["top5"],
            "seconds": round(time.perf_counter() - started, 1),
        }
        reports.append_csv(self.run_dir / "metrics.csv", row)
        reports.plot_curves(reports.read_csv(self.run_dir / "metrics.csv"), self.run_dir)
        tracker.log(epoch + 1, {k: float(v) for k, v in row.items() if k != "epoch"})
        LOG.info("epoch %d/%d: %s", epoch + 1, cfg.epochs, reports.format_metrics(
            (k, float(v)) for k, v in row.items() if k not in ("epoch", "aug_strength")
        ))  # fmt: skip
        metrics = {f"val_{k}": v for k, v in val.items()} | {"epoch": epoch + 1}
        improved = val["top1"] > self.best_top1
        if improved:
            self.best_top1 = val["top1"]
            save_checkpoint(self.run_dir / BEST, self.model, self._metadata(metrics, epoch + 1))
        save_checkpoint(self.run_dir / LATEST, self.model, self._metadata(metrics, epoch + 1), self.optimizer)

    def _train_one_epoch(self, epoch: int) -> tuple[float, float]:
        self.model.train()
        total_loss, correct, seen = 0.0, 0, 0
        progress = tqdm(self.train_loader, desc=f"epoch {epoch + 1}/{self.config.epochs}", leave=False)
        for images, labels, _ in progress:
            targets = labels
            if self.mixer is not None and torch.rand(()) < self.config.mix_prob:
                images, targets = self.mixer(images, labels)
            images, labels, targets = images.to(self.device), labels.to(self.device), targets.to(self.device)
            with torch.autocast("cuda", enabled=self.amp):
                logits = self.model(images)
                loss = self.criterion(logits, targets)
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.scheduler.step()
            total_loss += loss.item() * len(labels)
            correct += int((logits.argmax(dim=1) == labels).sum())
            seen += len(labels)
            progress.set_postfix(loss=f"{total_loss / seen:.3f}")
        return total_loss / seen, correct / seen

    def _eval_loader(self, split: str) -> DataLoader:
        dataset = SampleDataset(self.data.splits[split], eval_transform(self.preprocessing))
        return DataLoader(dataset, batch_size=self.config.batch_size, num_workers=self.config.workers)

    def _metadata(self, metrics: dict[str, Any], epoch: int) -> dict[str, Any]:
        size = self.config.image_size
        return {
            "architecture": self.config.architecture,
            "classes": self.data.classes,
            "class_descriptions": self.data.descriptions,
            "input_size": [size, size],
            "preprocessing": self.preprocessing.to_metadata(),
            "metrics": metrics,
            "command": self.command,
            "task": self.task,
            "dataset": {
                "root": str(self.data.root),
                "format": self.data.format,
                "split_seed": self.config.seed,
                "val_from_train": self.data.val_from_train,
                "sizes": {split: len(samples) for split, samples in self.data.splits.items()},
                **self.dataset_info,
            },
            "code_version": code_version(),
            "training": {
                "epoch": epoch,
                "best_top1": self.best_top1,
                "config": asdict(self.config),
                "scheduler": self.scheduler.state_dict(),
                "scaler": self.scaler.state_dict(),
            },
        }

    def _final_report(self) -> RunResult:
        """Evaluate the best checkpoint on test (val when test is unlabelled) and write the reports."""
        best = self.run_dir / BEST
        _, metadata = load_checkpoint(best, self.model)
        split = "test" if self.data.labelled("test") else "val"
        evaluation = evaluate(self.model, self._eval_loader(split), self.device, self.amp, f"report {split}")
        rows = evaluation.per_class(self.data.classes)
        reports.write_rows(self.run_dir / "per_class.csv", rows)
        summary = evaluation.summary()
        header = f"Best epoch {metadata['metrics']['epoch']}, {split} split: " + ", ".join(
            f"{k} {v:.4f}" for k, v in summary.items()
        )
        (self.run_dir / "per_class.md").write_text(f"{header}\n\n{reports.per_class_markdown(rows)}")
        reports.plot_confusion(evaluation, self.data.classes, self.run_dir / "confusion_matrix.png", header)
        self._write_predictions(split, evaluation)
        metrics = {
            **metadata["metrics"],
            **{f"{split}_{k}": v for k, v in summary.items()},
            f"{split}_per_class_accuracy": {r["class"]: r["accuracy"] for r in rows},
        }
        save_checkpoint(best, self.model, {**metadata, "metrics": metrics})
        LOG.info("best model: %s; reports in %s", reports.format_metrics(summary.items()), self.run_dir)
        return RunResult(self.run_dir, best, self.run_dir / LATEST, metrics)

    def _write_predictions(self, report_split: str, report: Evaluation) -> None:
        split = "test" if "test" in self.data.splits else "val"
        if split != report_split:
            report = evaluate(self.model, self._eval_loader(split), self.device, self.amp, f"predict {split}")
        reports.write_predictions(
            self.run_dir / "best_test_preds.csv", report, self.data.splits[split], self.data.classes, split
        )
