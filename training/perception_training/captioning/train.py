"""Captioner training loop: frozen-then-fine-tuned encoder, per-epoch validation, resume.

Outputs in ``out_dir``: ``metrics.csv`` (losses and caption metrics per epoch),
``loss_curve.png``, ``last.safetensors`` (resumable state), ``best.safetensors`` (best
validation BLEU-4) and the final artifact with validation and test metrics.
"""

from __future__ import annotations

import csv
import logging
import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from perception.core.artifacts import ArtifactError, read_metadata, sha256_of
from perception.core.caption_decoding import decode_batch
from perception.core.caption_model import CaptionerConfig, CaptionModel
from perception.core.captioner import model_from_artifact, save_captioner
from perception.core.devices import resolve_device
from perception.core.text import Tokenizer, Vocabulary, get_tokenizer
from perception.core.text.embeddings import load_glove
from perception_training.captioning.checkpoint import load_checkpoint, save_checkpoint
from perception_training.captioning.data import CaptionSplit, batches, load_splits
from perception_training.captioning.metrics import CaptionScorer, word_match
from perception_training.captioning.plots import plot_history
from perception_training.ood.calibrate import DEFAULT_CALIBRATION, calibrate_trained

LOG = logging.getLogger(__name__)
_BATCHNORM_IMAGES = 1024  # training images used to recompute BatchNorm statistics each epoch
_CSV_COLUMNS = (
    "epoch",
    "train_loss",
    "val_loss",
    "BLEU-1",
    "BLEU-2",
    "BLEU-3",
    "BLEU-4",
    "METEOR",
    "CIDEr",
    "encoder_trainable",
    "seconds",
)


@dataclass
class TrainConfig:
    """Everything a run depends on; defaults are the issue's (LR 4e-4, batch 64, 10 epochs...)."""

    captions: Path
    images: Path
    out_dir: Path
    splits: Path | None = None
    language: str = "en"
    epochs: int = 10
    batch_size: int = 64
    lr: float = 4e-4
    encoder_lr: float = 1e-4
    max_len: int = 50
    min_freq: int = 2
    image_size: int = 224
    unfreeze_after: int = 5
    embed_dim: int = 300
    hidden_dim: int = 512
    attention_dim: int = 256
    dropout: float = 0.3
    glove: Path | None = None
    encoder_weights: Path | None = None
    device: str = "auto"
    seed: int = 0
    resume: bool = False
    meteor: bool = True
    val_samples: int = 5
    captions_per_image: int = 0  # 0: every reference caption is a sample each epoch
    shift: float = 0.0  # random translation of training images, as a fraction of their size
    concept_weight: float = 1.0  # weight of the auxiliary bag-of-words loss (0 switches it off)
    lr_schedule: str = "cosine"  # "cosine": per-step decay to 0 over the run; "constant"
    beam_size: int = 3
    ood_calibration: int = DEFAULT_CALIBRATION  # held-out scenes for the domain threshold; 0 = none
    artifact: Path | None = None
    command: str = ""
    dataset: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainResult:
    artifact: Path
    history: list[dict[str, float]]
    test_metrics: dict[str, float]


def train(config: TrainConfig) -> TrainResult:
    """Train, validate every epoch, evaluate the best epoch on the test split, write the artifact."""
    torch.manual_seed(config.seed)
    out_dir = Path(config.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    device = resolve_device(config.device)
    use_amp = device.startswith("cuda")
    tokenizer = get_tokenizer(config.language)
    splits = load_splits(
        config.captions, config.images, tokenizer, config.image_size, config.splits, config.seed
    )
    last_path = out_dir / "last.safetensors"
    resumed = _load_resume(last_path) if config.resume else None
    vocabulary = (
        Vocabulary.from_metadata(resumed[2])
        if resumed
        else Vocabulary.build(
            (tokens for refs in splits["train"].references for tokens in refs), config.min_freq
        )
    )
    LOG.info("vocabulary: %d tokens (min frequency %d)", len(vocabulary), config.min_freq)
    model = CaptionModel(
        CaptionerConfig(
            len(vocabulary), config.embed_dim, config.hidden_dim, config.attention_dim, config.dropout
        ),
        config.encoder_weights,
    )
    extra: dict[str, Any] = {}
    if config.encoder_weights:
        extra["encoder_weights"] = encoder_provenance(Path(config.encoder_weights))
    if config.glove and not resumed:
        glove = load_glove(config.glove, vocabulary.word_map, config.embed_dim, config.seed)
        model.decoder.embedding.weight.data.copy_(glove.weights)
        extra["glove_coverage"] = round(glove.coverage, 4)
    model.to(device)
    optimizer = build_optimizer(model, config.lr, config.encoder_lr)
    history: list[dict[str, float]] = []
    start_epoch = 1
    steps_per_epoch = math.ceil(splits["train"].pair_count(config.captions_per_image) / config.batch_size)
    if resumed:
        model_state, optimizer_state, metadata = resumed
        model.load_state_dict(model_state)
        optimizer.load_state_dict(optimizer_state)
        history, start_epoch = metadata["history"], int(metadata["epoch"]) + 1
        extra = metadata.get("extra", {})
        LOG.info("resumed from %s at epoch %d", last_path, start_epoch)
    scheduler = build_scheduler(
        optimizer, config.lr_schedule, config.epochs * steps_per_epoch, (start_epoch - 1) * steps_per_epoch
    )
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    scorer = CaptionScorer(meteor=config.meteor)
    val_pairs = splits["val"].pairs(vocabulary, config.max_len)
    shuffler = random.Random(config.seed + start_epoch)
    saving = _Saver(config, out_dir, vocabulary, extra)
    for epoch in range(start_epoch, config.epochs + 1):
        began = time.monotonic()
        encoder_trainable = epoch > config.unfreeze_after
        model.set_encoder_trainable(encoder_trainable)
        train_loss = _train_epoch(
            model,
            splits["train"],
            batches(
                splits["train"].pairs(vocabulary, config.max_len, config.captions_per_image, shuffler),
                config.batch_size,
                vocabulary.pad,
                shuffler,
            ),
            optimizer,
            scheduler,
            scaler,
            device,
            use_amp,
            f"epoch {epoch}/{config.epochs}",
            config.shift,
            shuffler,
            _concept_targets(splits["train"], vocabulary),
            config.concept_weight,
        )
        recalibrate_batchnorm(model.encoder, splits["train"].images, config.batch_size, device)
        val_loss = _loss(
            model, splits["val"], batches(val_pairs, config.batch_size, vocabulary.pad, None), device
        )
        hypotheses = _generate(model, splits["val"], vocabulary, config, device, beam_size=1)
        scores = scorer.score(splits["val"].references, hypotheses)
        _log_samples(splits["val"], hypotheses, tokenizer, config.val_samples)
        row = {
            "epoch": epoch,
            "train_loss": round(train_loss, 4),
            "val_loss": round(val_loss, 4),
            **{name: round(value, 4) for name, value in scores.items()},
            "encoder_trainable": int(encoder_trainable),
            "seconds": round(time.monotonic() - began, 1),
        }
        history.append(row)
        LOG.info("epoch %d: %s", epoch, ", ".join(f"{key}={value}" for key, value in row.items()))
        _write_csv(history, out_dir / "metrics.csv")
        plot_history(history, out_dir / "loss_curve.png")
        if row["BLEU-4"] >= max(previous["BLEU-4"] for previous in history):
            saving.best(model, row)
        save_checkpoint(
            last_path,
            model,
            optimizer,
            {"epoch": epoch, "history": history, "extra": extra, **vocabulary.to_metadata()},
        )
    return saving.final(splits.get("test"), scorer, device, history)


class _Saver:
    """Writes best.safetensors during training and the final artifact with test metrics."""

    def __init__(
        self, config: TrainConfig, out_dir: Path, vocabulary: Vocabulary, extra: dict[str, Any]
    ) -> None:
        self.config = config
        self.best_path = out_dir / "best.safetensors"
        self.final_path = Path(config.artifact) if config.artifact else out_dir / "captioner.safetensors"
        self.vocabulary = vocabulary
        self.extra = extra

    def best(self, model: CaptionModel, row: dict[str, float]) -> Path:
        return self._save(self.best_path, model, {"val": row}, int(row["epoch"]))

    def final(
        self, test: CaptionSplit | None, scorer: CaptionScorer, device: str, history: list[dict[str, float]]
    ) -> TrainResult:
        if not history:
            raise ValueError(
                f"nothing trained: {self.config.epochs} epochs requested and none left to resume"
            )
        model, _, metadata = model_from_artifact(self.best_path, device)
        metrics = dict(metadata["metrics"])
        if test is not None:
            for beam in sorted({1, self.config.beam_size}):
                hypotheses = _generate(model, test, self.vocabulary, self.config, device, beam)
                metrics[f"test_beam{beam}"] = {
                    k: round(v, 4) for k, v in scorer.score(test.references, hypotheses).items()
                }
                LOG.info(
                    "test split (%d images, beam %d): %s", len(test.names), beam, metrics[f"test_beam{beam}"]
                )
        self._save(self.final_path, model, metrics, int(metrics["val"]["epoch"]))
        LOG.info("wrote %s", self.final_path)
        calibrate_trained(self.final_path, self.config.ood_calibration)
        return TrainResult(self.final_path, history, metrics.get("test_beam1", {}))

    def _save(self, path: Path, model: CaptionModel, metrics: dict[str, Any], epoch: int) -> Path:
        training = {
            key: value for key, value in asdict(self.config).items() if key not in ("command", "dataset")
        }
        return save_captioner(
            path,
            model,
            self.vocabulary,
            tokenizer=get_tokenizer(self.config.language).name,
            language=self.config.language,
            image_size=self.config.image_size,
            max_len=self.config.max_len,
            extra={
                "metrics": metrics,
                "epoch": epoch,
                "command": self.config.command,
                "dataset": self.config.dataset,
                "training": _json_safe(training),
                **self.extra,
            },
        )


def _train_epoch(
    model: CaptionModel,
    split: CaptionSplit,
    epoch_batches: list[tuple[torch.Tensor, torch.Tensor]],
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    scaler: torch.amp.GradScaler,
    device: str,
    use_amp: bool,
    description: str,
    shift: float,
    generator: random.Random,
    concept_targets: torch.Tensor,
    concept_weight: float,
) -> float:
    # A frozen encoder still runs in training mode: its BatchNorm statistics must adapt, because
    # a randomly initialised MobileNetV3 with its initial statistics outputs features near zero.
    model.train()
    criterion = nn.CrossEntropyLoss(ignore_index=0)
    total, count = 0.0, 0
    progress = tqdm(epoch_batches, desc=description, leave=False)
    for image_ids, captions in progress:
        images = _shifted(split.images[image_ids], shift, generator).to(device)
        captions = captions.to(device)
        with torch.autocast("cuda", dtype=torch.float16, enabled=use_amp):
            logits, concepts = model.forward_with_concepts(images, captions)
            loss = criterion(logits.reshape(-1, logits.size(-1)), captions[:, 1:].reshape(-1))
            if concept_weight:
                targets = concept_targets[image_ids].to(device)
                loss = loss + concept_weight * nn.functional.binary_cross_entropy_with_logits(
                    concepts, targets
                )
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        total += loss.item() * len(image_ids)
        count += len(image_ids)
        progress.set_postfix(loss=f"{total / count:.3f}")
    return total / max(count, 1)


def build_optimizer(model: CaptionModel, lr: float, encoder_lr: float) -> torch.optim.Adam:
    """Adam over every parameter: the encoder at ``encoder_lr``, the rest at ``lr``."""
    encoder = {id(parameter) for parameter in model.encoder.parameters()}
    rest = [parameter for parameter in model.parameters() if id(parameter) not in encoder]
    return torch.optim.Adam(
        [{"params": rest, "lr": lr}, {"params": list(model.encoder.parameters()), "lr": encoder_lr}]
    )


def encoder_provenance(path: Path) -> dict[str, Any]:
    """The encoder file a run started from: its hash, and how it was made when it is our artifact."""
    record: dict[str, Any] = {"path": str(path), "sha256": sha256_of(path)}
    if path.suffix == ".safetensors":
        try:
            metadata = read_metadata(path)
        except ArtifactError:
            return record  # a plain safetensors state dict (e.g. converted torchvision weights)
        record.update(
            {key: metadata[key] for key in ("kind", "command", "dataset", "metrics") if key in metadata}
        )
    return record


def build_scheduler(
    optimizer: torch.optim.Optimizer, schedule: str, total_steps: int, done_steps: int = 0
) -> torch.optim.lr_scheduler.LambdaLR:
    """Per-step learning-rate factor: cosine from 1 to 0 over ``total_steps``, or constant 1.

    Closed form in the step number, so a resumed run (``done_steps`` > 0) continues the curve.
    """
    if schedule not in ("cosine", "constant"):
        raise ValueError(f"unknown learning-rate schedule {schedule!r}; choose cosine or constant")

    def factor(step: int) -> float:
        if schedule == "constant":
            return 1.0
        return 0.5 * (1.0 + math.cos(math.pi * min(step, total_steps) / max(total_steps, 1)))

    for group in optimizer.param_groups:
        group.setdefault("initial_lr", group["lr"])
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor, last_epoch=done_steps - 1)


def _concept_targets(split: CaptionSplit, vocabulary: Vocabulary) -> torch.Tensor:
    """(images, vocabulary) multi-hot: the words any reference caption of each image uses."""
    targets = torch.zeros(len(split.names), len(vocabulary))
    for index, captions in enumerate(split.references):
        ids = {
            vocabulary.word_map[token]
            for tokens in captions
            for token in tokens
            if token in vocabulary.word_map
        }
        targets[index, sorted(ids)] = 1.0
    return targets


def _shifted(images: torch.Tensor, shift: float, generator: random.Random) -> torch.Tensor:
    """Translate each image by up to ``shift`` of its size (edges replicated).

    No flips or colour changes: captions name left/right and colours.
    """
    margin = round(shift * images.size(-1))
    if margin == 0:
        return images
    padded = torch.nn.functional.pad(images, (margin, margin, margin, margin), mode="replicate")
    size = images.size(-1)
    offsets = [
        (generator.randint(0, 2 * margin), generator.randint(0, 2 * margin)) for _ in range(len(images))
    ]
    return torch.stack([padded[i, :, y : y + size, x : x + size] for i, (y, x) in enumerate(offsets)])


@torch.no_grad()
def recalibrate_batchnorm(encoder: nn.Module, images: torch.Tensor, batch_size: int, device: str) -> None:
    """Recompute the encoder's BatchNorm running statistics for its current weights ("precise BN").

    Inference uses running statistics, while training normalises with each batch's own. A
    randomly initialised MobileNetV3 carries its signal in small deviations that lagging
    running averages (momentum 0.01) wipe out: every image then gets the same caption. Exact
    averages over (up to 1024 of) the training images make evaluation see what training saw.
    """
    layers = [layer for layer in encoder.modules() if isinstance(layer, nn.BatchNorm2d)]
    momenta = [layer.momentum for layer in layers]
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None  # cumulative average
    encoder.train()
    for start in range(0, min(len(images), _BATCHNORM_IMAGES), batch_size):
        encoder(images[start : start + batch_size].to(device))
    for layer, momentum in zip(layers, momenta, strict=True):
        layer.momentum = momentum


@torch.no_grad()
def _loss(
    model: CaptionModel,
    split: CaptionSplit,
    eval_batches: list[tuple[torch.Tensor, torch.Tensor]],
    device: str,
) -> float:
    model.eval()
    criterion = nn.CrossEntropyLoss(ignore_index=0, reduction="sum")
    total, tokens = 0.0, 0
    for image_ids, captions in eval_batches:
        logits = model(split.images[image_ids].to(device), captions.to(device))
        targets = captions[:, 1:].to(device)
        total += float(criterion(logits.reshape(-1, logits.size(-1)), targets.reshape(-1)))
        tokens += int((targets != 0).sum())
    return total / max(tokens, 1)


def _generate(
    model: CaptionModel,
    split: CaptionSplit,
    vocabulary: Vocabulary,
    config: TrainConfig,
    device: str,
    beam_size: int,
) -> list[list[str]]:
    model.eval()
    results: list[list[str]] = []
    for start in range(0, len(split.names), config.batch_size):
        images = split.images[start : start + config.batch_size].to(device)
        decoded = decode_batch(model, images, vocabulary.start, vocabulary.end, config.max_len, beam_size)
        results.extend(vocabulary.decode(ids) for ids, _ in decoded)
    return results


def _log_samples(split: CaptionSplit, hypotheses: list[list[str]], tokenizer: Tokenizer, count: int) -> None:
    for index in range(min(count, len(hypotheses))):
        reference = split.references[index][0]
        LOG.info(
            "  %s\n    generated: %s\n    reference: %s\n    word match: %.0f%%",
            split.names[index],
            tokenizer.detokenize(hypotheses[index]),
            tokenizer.detokenize(reference),
            word_match(hypotheses[index], reference),
        )


def _write_csv(history: list[dict[str, float]], path: Path) -> None:
    present = {key for row in history for key in row}
    fields = [key for key in _CSV_COLUMNS if key in present] + sorted(present - set(_CSV_COLUMNS))
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(history)


def _load_resume(path: Path) -> tuple[dict, dict, dict[str, Any]] | None:
    if not path.is_file():
        LOG.info("no checkpoint at %s; starting from scratch", path)
        return None
    return load_checkpoint(path)


def _json_safe(values: dict[str, Any]) -> dict[str, Any]:
    return {key: str(value) if isinstance(value, Path) else value for key, value in values.items()}
