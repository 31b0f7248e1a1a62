"""``perception-train caption``: train the captioner from a captions.txt dataset.

Either ``--data ROOT`` (the synthetic-world layout: ``ROOT/images``,
``ROOT/<lang>/<format>/captions.txt``, ``ROOT/splits/{train,val,test}.txt``), explicit
``--captions FILE --images DIR [--splits DIR]``, or ``--synthetic TRAIN,VAL,TEST`` (writes the
synthetic world's scenes to OUT/data first; with ``--sim2real [OPTION ...]`` the world's
sim-to-real options, to OUT/data-OPTION-...). Outputs in ``--out``: metrics.csv (losses and
caption metrics per epoch), loss_curve.png, step_loss.csv/.png (loss of every step),
best.safetensors (best validation BLEU-4), last.ckpt / best.ckpt (what ``--resume`` continues),
tensorboard/, and the final artifact (best epoch + test-split metrics, default
OUT/captioner.safetensors).

``--compare-optimizers adam,adamw,nadam,sgd`` trains one such run per optimizer into OUT/<name>
(same data, seed and epochs) and compares their losses in OUT/optimizer_comparison.png and .csv.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import lightning as L

from perception.core.artifacts import ArtifactError, load_artifact, read_metadata, save_artifact, sha256_of
from perception.core.captioner import model_from_artifact
from perception.core.devices import resolve_device
from perception.core.text import Vocabulary, get_tokenizer
from perception_training.captioning.data import CaptionDataModule, CaptionSplit, load_splits
from perception_training.captioning.glove import load_glove
from perception_training.captioning.module import CaptionerModule, generate
from perception_training.engine.callbacks import ArtifactExport, CurvePlots, MetricsCsv, PreciseBatchNorm
from perception_training.engine.flags import Config, add_flags, config_from, flag, parse_counts, parse_size
from perception_training.engine.optim import OPTIMIZERS, SCHEDULES
from perception_training.engine.plots import Chart, plot_loss_comparison
from perception_training.engine.run import (
    RunPaths,
    TrainerOptions,
    dataset_provenance,
    recipe_trainer,
    resume_from,
    start_process,
    synthetic_once,
)
from perception_training.engine.tables import read_rows, write_rows
from perception_training.ood.calibrate import DEFAULT_CALIBRATION, calibrate_trained
from perception_training.synthetic import write_caption_dataset
from perception_training.synthetic.sim2real import add_sim2real_argument, sim2real_from_args

LOG = logging.getLogger(__name__)
MONITOR = "BLEU-4"
BEST = "best.safetensors"
CHART = Chart(
    "loss_curve.png", ("train_loss", "val_loss"), "cross-entropy", "captioner training", ("BLEU-4",)
)


@dataclass(frozen=True)
class CaptionConfig(TrainerOptions):
    """Every setting of a captioner run; each field is a command-line flag. Defaults follow the
    original recipe (LR 4e-4, batch 64, 10 epochs, encoder frozen for 5, max 50 tokens)."""

    data: Path | None = flag(None, "dataset root in the synthetic-world layout")
    synthetic: str | None = flag(None, "TRAIN,VAL,TEST: write synthetic scenes to OUT/data, train on them")
    synthetic_size: str = flag("320x240", "WxH of synthetic scenes (a camera's; squashed as the node does)")
    synthetic_seed: int = flag(0, "seed of the synthetic world")
    sim2real: tuple[str, ...] = flag(
        (), "sim-to-real options of the --synthetic world (parse_args: bare = all)"
    )
    format: str = flag("csv", "which captions.txt under --data", choices=("csv", "tsv", "flickr"))
    captions: Path | None = flag(None, "captions.txt (csv, tsv, flickr or plain lines: auto-detected)")
    images: Path | None = flag(None, "folder holding the images of captions.txt")
    splits: Path | None = flag(None, "folder with train.txt/val.txt/test.txt (else 80/10/10 split)")
    language: str = flag("en", "ko tokenizes into Kiwi morphemes", choices=("en", "ko"))
    out: Path = flag(Path("runs/captioner"), "metrics.csv, loss_curve.png, checkpoints")
    artifact: Path | None = flag(None, "final artifact path (default OUT/captioner.safetensors)")
    epochs: int = 10
    batch_size: int = flag(64, "images per step", aliases=("--batch",))
    optimizer: str = flag("adam", "optimizer", choices=OPTIMIZERS)
    compare_optimizers: str | None = flag(
        None, "NAME,NAME,...: one run per optimizer into OUT/NAME, losses in OUT/optimizer_comparison.png"
    )
    lr: float = flag(4e-4, "learning rate of the decoder and the concept head")
    encoder_lr: float = flag(1e-4, "learning rate of the encoder once it is unfrozen")
    weight_decay: float = 0.0
    unfreeze_after: int = flag(5, "encoder frozen for this many epochs")
    captions_per_image: int = flag(0, "captions sampled per image each epoch (0: all)")
    shift: float = flag(0.0, "random translation augmentation, fraction of the size")
    concept_weight: float = flag(1.0, "auxiliary bag-of-words loss weight (0: off)")
    lr_schedule: str = flag("cosine", "cosine: both rates decay per step to 0 at the end", choices=SCHEDULES)
    max_len: int = flag(50, "longest caption in tokens, incl. <start>/<end>")
    min_freq: int = flag(2, "rarer tokens become <unk>")
    image_size: int = 224
    embed_dim: int = 300
    hidden_dim: int = 512
    attention_dim: int = 256
    dropout: float = 0.3
    glove: Path | None = flag(None, "local GloVe text file (e.g. glove.6B.300d.txt) for embeddings")
    encoder_weights: Path | None = flag(None, "mobilenet_v3_small weights or a caption-encoder artifact")
    seed: int = 0
    beam_size: int = flag(3, "beam size of the extra test-split evaluation", aliases=("--beam",))
    val_samples: int = flag(5, "validation images printed each epoch beside their reference")
    ood_calibration: int = flag(DEFAULT_CALIBRATION, "held-out scenes for the domain threshold (0: none)")
    resume: bool = flag(False, "continue from OUT/last.ckpt")
    meteor: bool = flag(True, "score METEOR (it starts a Java process)")

    @property
    def artifact_path(self) -> Path:
        return self.artifact or self.out / "captioner.safetensors"


@dataclass(frozen=True)
class CaptionData:
    """Where the captions, images and splits of a run are, and what the artifact records of them."""

    captions: Path
    images: Path
    splits: Path | None
    provenance: dict[str, Any]


def main(argv: Sequence[str] | None = None, prog: str = "perception-train caption") -> int:
    """Entry point with the dispatcher's signature (``perception_training.cli``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    config = parse_args(argv, prog)
    start_process(config.threads)
    command = shlex.join([*prog.split(), *argv])
    if config.compare_optimizers:
        plot = compare_optimizers(config, command)
        if plot is not None:
            print(f"optimizer comparison: {plot} ({plot.with_suffix('.csv').name} beside it)")
        return 0
    artifact, test_metrics = train(config, command)
    if artifact is not None:
        print(f"captioner artifact: {artifact}")
        print("test metrics (greedy):", test_metrics or "no test split")
    return 0


def parse_args(
    argv: Sequence[str],
    prog: str,
    config_type: type[Config] = CaptionConfig,
    description: str | None = __doc__,
) -> Config:
    """The flags of every ``config_type`` field (a ``CaptionConfig`` or any config with ``synthetic``
    and ``sim2real`` fields); ``--sim2real [OPTION ...]`` is the synthetic world's shared flag
    (absent = off, bare = all options, as ``perception-train detector``)."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description=description,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        conflict_handler="resolve",  # add_sim2real_argument replaces the field's one-value flag
    )
    add_flags(parser, config_type)
    add_sim2real_argument(parser)
    args = parser.parse_args(argv)
    if args.sim2real is not None and not args.synthetic:
        parser.error(
            "--sim2real changes the synthetic world; it needs --synthetic "
            "(it does nothing with a data set on disk)"
        )
    args.sim2real = sim2real_from_args(args.sim2real)
    return config_from(args, config_type)


def train(config: CaptionConfig, command: str) -> tuple[Path | None, dict[str, float]]:
    """Fit, validate every epoch, then (on rank 0) evaluate the best epoch on the test split and
    write the artifact; return its path and greedy test metrics (None on other ranks)."""
    paths = RunPaths(config.out)
    checkpoint = resume_from(paths, config.resume)
    data = resolve_data(config)
    L.seed_everything(config.seed, workers=True)  # the initial weights
    tokenizer = get_tokenizer(config.language)
    splits = load_splits(data.captions, data.images, tokenizer, config.image_size, data.splits, config.seed)
    vocabulary = Vocabulary.build(
        (tokens for references in splits["train"].references for tokens in references), config.min_freq
    )
    LOG.info("vocabulary: %d tokens (min frequency %d)", len(vocabulary), config.min_freq)
    extra = {"encoder_weights": encoder_provenance(config.encoder_weights)} if config.encoder_weights else {}
    if config.glove:
        glove = load_glove(config.glove, vocabulary.word_map, config.embed_dim, config.seed)
        extra["glove_coverage"] = round(glove.coverage, 4)
    module = CaptionerModule(plain_settings(config), vocabulary.to_metadata(), data.provenance, extra)
    if config.glove:
        module.model.decoder.embedding.weight.data.copy_(glove.weights)
    datamodule = CaptionDataModule(
        splits,
        vocabulary,
        config.batch_size,
        config.max_len,
        config.captions_per_image,
        config.shift,
        config.seed,
    )
    callbacks = [
        MetricsCsv(paths.metrics_csv, epoch_offset=1),
        ArtifactExport(paths.root / BEST, command, MONITOR, "max", epoch_offset=1),
        CurvePlots(paths.metrics_csv, charts=[CHART]),
        PreciseBatchNorm(),
    ]
    trainer = recipe_trainer(
        paths, config, config.epochs, MONITOR, callbacks, config.unfreeze_after > 0, gradient_clip_val=5.0
    )
    trainer.fit(module, datamodule=datamodule, ckpt_path=checkpoint)
    if not trainer.is_global_zero:
        return None, {}
    return final_artifact(config, splits.get("test"), module)


def compare_optimizers(config: CaptionConfig, command: str) -> Path | None:
    """One complete run per optimizer of ``--compare-optimizers`` into OUT/<name>, all on the same
    data (``--synthetic`` written once, to OUT/data), seed and epochs; then, on rank 0, every
    epoch's metrics row of each in OUT/optimizer_comparison.csv and their training loss per step
    and validation loss per epoch in OUT/optimizer_comparison.png (returned; None on other ranks)."""
    names = list(dict.fromkeys(name.strip() for name in config.compare_optimizers.split(",")))
    if not set(names) <= set(OPTIMIZERS):
        raise SystemExit(f"--compare-optimizers wants names from {','.join(OPTIMIZERS)}, got {names}")
    data = _synthetic(config) if config.synthetic else config.data
    shared = replace(config, data=data, synthetic=None, artifact=None, compare_optimizers=None)
    runs = {name: RunPaths(config.out / name) for name in names}
    for name, paths in runs.items():
        artifact, _ = train(replace(shared, optimizer=name, out=paths.root), command)
    if artifact is None:
        return None
    rows = [
        {"optimizer": name, **row} for name, paths in runs.items() for row in read_rows(paths.metrics_csv)
    ]
    write_rows(config.out / "optimizer_comparison.csv", rows, list(dict.fromkeys(k for r in rows for k in r)))
    return plot_loss_comparison(
        {name: read_rows(paths.step_loss_csv) for name, paths in runs.items()},
        {name: read_rows(paths.metrics_csv) for name, paths in runs.items()},
        config.out / "optimizer_comparison.png",
        "captioner: one run per optimizer, same data and seed",
    )


def resolve_data(config: CaptionConfig) -> CaptionData:
    """The captions, images and splits of ``--synthetic``, ``--data`` or ``--captions/--images``."""
    root = config.data
    if config.synthetic:
        root = _synthetic(config)
    if root:
        captions, images, splits = (
            root / config.language / config.format / "captions.txt",
            root / "images",
            root / "splits",
        )
        splits = splits if splits.is_dir() else None
    elif config.captions and config.images:
        captions, images, splits = config.captions, config.images, config.splits
    else:
        raise SystemExit(
            "caption: give --data ROOT, --captions FILE and --images DIR, or --synthetic TRAIN,VAL,TEST"
        )
    provenance = {"captions": str(captions), "images": str(images), "splits": str(splits) if splits else None}
    return CaptionData(captions, images, splits, {**provenance, **dataset_provenance(root)})


def final_artifact(
    config: CaptionConfig, test: CaptionSplit | None, module: CaptionerModule
) -> tuple[Path, dict[str, float]]:
    """The best epoch's artifact plus its test-split metrics (greedy and beam) and domain statistics."""
    best = config.out / BEST
    if not best.is_file():
        raise ValueError(f"nothing trained: {config.epochs} epochs requested and none left to resume")
    tensors, metadata = load_artifact(best, expected_kind="captioner")
    metrics: dict[str, Any] = {"val": metadata["metrics"]}
    if test is not None:
        model, vocabulary, _ = model_from_artifact(best, resolve_device(config.device))
        for beam in sorted({1, config.beam_size}):
            hypotheses = generate(model, test, vocabulary, module.settings, beam)
            scores = module.scorer.score(test.references, hypotheses)
            metrics[f"test_beam{beam}"] = {name: round(value, 4) for name, value in scores.items()}
            LOG.info(
                "test split (%d images, beam %d): %s", len(test.names), beam, metrics[f"test_beam{beam}"]
            )
    epoch = metadata["metrics"]["epoch"]
    path = save_artifact(config.artifact_path, tensors, {**metadata, "metrics": metrics, "epoch": epoch})
    LOG.info("wrote %s", path)
    calibrate_trained(path, config.ood_calibration)
    return path, metrics.get("test_beam1", {})


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


def plain_settings(config: CaptionConfig) -> dict[str, Any]:
    """The config as JSON-safe plain data (paths as strings): checkpoint hyper-parameters and the
    artifact's ``training`` record."""
    return {key: _plain(value) for key, value in asdict(config).items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    return list(value) if isinstance(value, tuple) else value


def _synthetic(config: CaptionConfig) -> Path:
    counts = parse_counts(config.synthetic, ("train", "val", "test"), "--synthetic")
    size = parse_size(config.synthetic_size, "--synthetic-size")
    sim2real = config.sim2real
    root = config.out / "-".join(["data", *sim2real])  # data, data-photos-lookalikes-camera, ...
    # None matches a plain data set's record, which has no "sim2real" (written before it existed)
    settings = {
        "seed": config.synthetic_seed,
        "counts": counts,
        "size": list(size),
        "sim2real": list(sim2real) or None,
    }
    write = partial(write_caption_dataset, root, config.synthetic_seed, counts, size, sim2real=sim2real)
    return synthetic_once(root, settings, write)


if __name__ == "__main__":
    raise SystemExit(main())
