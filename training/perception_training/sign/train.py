"""``perception-train sign``: train a sign-word video classifier on AIHub-format data.

Outputs in OUTPUT_DIR/EXPERIMENT_NAME: tensorboard/, best.ckpt, last.ckpt, metrics.csv,
curves.png, step_loss.csv/.png, confusion_matrix.png (best model on validation); the node
artifact goes to --artifact (best epoch), with TorchScript exports beside it when asked for.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import lightning as L
import torch

from perception.core.sign import IDLE_CLASS, IDLE_GLOSS, load_sign_model
from perception.core.video_models import VIDEO_MODELS, VideoModelSpec, video_spec
from perception_training.engine.callbacks import ArtifactExport, CurvePlots, MetricsCsv, epoch_metrics
from perception_training.engine.flags import flag, parse_config, parse_sizes
from perception_training.engine.optim import EPOCH_SCHEDULES
from perception_training.engine.plots import confusion_png
from perception_training.engine.run import (
    RunPaths,
    TrainerOptions,
    dataset_provenance,
    epoch_seed,
    recipe_trainer,
    resume_from,
    start_process,
    synthetic_once,
)
from perception_training.ood.calibrate import DEFAULT_CALIBRATION, calibrate_trained
from perception_training.sign.aihub import AihubIndex, check_vocabulary, read_aihub, split_by_video
from perception_training.sign.data import SignDataModule, with_idle
from perception_training.sign.export import export_int8, export_mobile, int8_path, mobile_path
from perception_training.sign.module import SignClassifier
from perception_training.synthetic.signing import GAP_SECONDS, SIGN_WORDS, write_aihub_dataset

LOG = logging.getLogger(__name__)
MONITOR = "val_acc"


@dataclass(frozen=True)
class SignTrainConfig(TrainerOptions):
    """Every setting of a sign training run; each field is a command-line flag (where it runs:
    :class:`TrainerOptions`)."""

    data_root: Path | None = flag(None, "AIHub folder split by video into train/val")
    train_data_root: Path | None = flag(None, "AIHub folder for training")
    val_data_root: Path | None = flag(None, "AIHub folder for validation")
    synthetic: int = flag(0, "first write N synthetic training videos (and N/4 val)")
    synthetic_sizes: str = flag("160x120", "--synthetic video sizes WxH[,WxH...], taken in turn per video")
    synthetic_max_gap: float = flag(
        GAP_SECONDS[1], f"--synthetic: longest idle time between two signs [s] (from {GAP_SECONDS[0]})"
    )
    synthetic_low_contrast: float = flag(
        0.0, "--synthetic: share of signers whose shirt is close to their skin tone"
    )
    val_fraction: float = flag(0.2, "share of --data_root videos held out")
    seed: int = 0
    background_class: bool = flag(
        True, f"add the class {IDLE_CLASS!r}: clips of the unlabelled gaps between segments"
    )
    idle_min_gap: float = flag(0.5, "seconds a gap needs to give an idle clip (at least --clip_duration)")
    model_name: str = flag("x3d_xs", "video model", choices=VIDEO_MODELS)
    init_from: Path | None = flag(None, "start from this sign artifact's weights (same model and classes)")
    batch_size: int = 8
    epochs: int = 30
    learning_rate: float = 1e-3
    optimizer: str = flag("adam", "optimizer", choices=("adam", "sgd"))
    scheduler: str = flag("cosine", "learning-rate schedule, per epoch", choices=EPOCH_SCHEDULES)
    dropout_rate: float = 0.5
    weight_decay: float = 1e-4
    label_smoothing: float = 0.1
    num_frames: int | None = flag(None, "frames per clip (default: the model's)")
    clip_duration: float = flag(
        0.0, "clip length [s]: random windows holding --min_coverage of a sign (val: centred); 0: the segment"
    )
    min_coverage: float = flag(
        0.75, "share of its sign (or of the window) a --clip_duration training window holds"
    )
    mirror_pairs: str = flag(
        "",
        "word pairs a horizontal flip exchanges, A:B[,C:D]: half the training clips are then flipped "
        "and relabelled (the synthetic world's: 왼쪽:오른쪽); empty: never flip",
    )
    frame_cache_mb: int = flag(2048, "decoded videos kept in memory, at the crop size (0: decode every clip)")
    crop_size: int | None = flag(None, "square crop in px (default: the model's)")
    num_workers: int = 0
    pin_memory: bool = False
    output_dir: Path = Path("runs/sign")
    experiment_name: str | None = flag(None, "run folder name (default: the model name)")
    resume: bool = flag(False, "continue OUTPUT_DIR/EXPERIMENT_NAME/last.ckpt")
    artifact: Path | None = flag(None, "node artifact (default models/sign/<model>_sign.safetensors)")
    ood_calibration: int = flag(
        DEFAULT_CALIBRATION,
        "held-out synthetic clips that calibrate the artifact's domain statistics (0: none)",
    )
    export_mobile_model: bool = flag(False, "also write <artifact>_mobile.ptl (TorchScript)")
    quantize_model: bool = flag(False, "also write <artifact>_int8.pt (dynamic INT8)")

    @property
    def run_dir(self) -> Path:
        return self.output_dir / (self.experiment_name or self.model_name)

    @property
    def artifact_path(self) -> Path:
        return self.artifact or Path("models/sign") / f"{self.model_name}_sign.safetensors"

    def mirror(self) -> dict[str, str]:
        """--mirror_pairs as {word: its mirror word}, one entry per pair."""
        pairs = [item.split(":") for item in self.mirror_pairs.split(",") if item.strip()]
        if any(len(pair) != 2 or not all(w.strip() for w in pair) for pair in pairs):
            raise SystemExit(f"--mirror_pairs {self.mirror_pairs!r}: write word pairs as A:B[,C:D]")
        return {a.strip(): b.strip() for a, b in pairs}

    def spec(self) -> VideoModelSpec:
        """The model's table entry with --num_frames / --crop_size applied."""
        base = video_spec(self.model_name)
        spec = replace(
            base, num_frames=self.num_frames or base.num_frames, crop_size=self.crop_size or base.crop_size
        )
        if base.fixed_size and spec != base:
            raise SystemExit(f"{self.model_name} only takes {base.num_frames} frames at {base.crop_size} px")
        return spec


def main(argv: Sequence[str] | None = None, prog: str = "perception-train sign") -> int:
    config = parse_config(SignTrainConfig, argv, prog, __doc__)
    start_process(config.threads)
    command = shlex.join(["perception-train", "sign", *(argv if argv is not None else sys.argv[1:])])
    summary = train(config, command)
    if summary:
        print(json.dumps(summary, indent=2, ensure_ascii=False))
    return 0


def train(config: SignTrainConfig, command: str) -> dict[str, object]:
    """Run the whole recipe; return a summary (paths and best validation metrics; {} on ranks
    other than 0, which write nothing)."""
    paths = RunPaths(config.run_dir)
    resume = resume_from(paths, config.resume)
    mirror = config.mirror()  # a malformed --mirror_pairs stops here, before any data is written
    L.seed_everything(config.seed, workers=True)  # initial weights, shuffling and augmentation
    train_index, val_index, dataset = _datasets(config, paths)
    classes = list(train_index.classes)
    module = SignClassifier(
        spec=config.spec().to_dict(),
        classes=classes,
        glosses=_glosses(classes),
        clip_duration=config.clip_duration or _mean_duration(train_index),
        dropout=config.dropout_rate,
        optimizer=config.optimizer,
        scheduler=config.scheduler,
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        label_smoothing=config.label_smoothing,
        epochs=config.epochs,
    )
    data = SignDataModule(
        train_index.segments,
        val_index.segments,
        classes,
        module.spec,
        config.clip_duration,
        config.batch_size,
        config.num_workers,
        config.pin_memory,
        config.min_coverage,
        config.frame_cache_mb << 20,
        mirror,
    )
    extra: dict[str, object] = {"dataset": dataset, "mirror_pairs": mirror}
    if config.init_from:
        extra["initialised_from"] = _initialise(module, config.init_from)
    callbacks = [
        ArtifactExport(config.artifact_path, command, MONITOR, extra=extra),
        MetricsCsv(paths.metrics_csv),
        CurvePlots(paths.metrics_csv, paths.curves_png),
    ]
    # One loader per split for the whole fit: workers keep the videos they decoded (FrameCache).
    trainer = recipe_trainer(
        paths, config, config.epochs, MONITOR, callbacks, reload_dataloaders_every_n_epochs=0
    )
    if trainer.global_rank:  # other processes augment differently; rank 0 draws what one process draws
        torch.manual_seed(epoch_seed(trainer, config.seed))
    trainer.fit(module, datamodule=data, ckpt_path=resume)
    trainer.validate(module, datamodule=data, ckpt_path=str(paths.best_ckpt), verbose=False)
    if not trainer.is_global_zero:
        return {}
    best = epoch_metrics(trainer)
    # Glosses label the axes: matplotlib's bundled font has no Hangul.
    title = f"{config.model_name}: best epoch on validation"
    confusion_png(*module.val_predictions, module.glosses, paths.confusion_png, title)
    calibrate_trained(config.artifact_path, config.ood_calibration)
    exports = _exports(config)
    return {
        "run_dir": str(paths.root),
        "artifact": str(config.artifact_path),
        "exports": [str(p) for p in exports],
        "classes": classes,
        "train_segments": len(train_index.segments),
        "val_segments": len(val_index.segments),
        **{f"best_{k}": v for k, v in best.items()},
    }


def _datasets(config: SignTrainConfig, paths: RunPaths) -> tuple[AihubIndex, AihubIndex, dict[str, object]]:
    """(train, val, dataset metadata) from --synthetic, --train/val_data_root or --data_root."""
    if config.synthetic:
        config = _synthetic(config, paths)
    if config.train_data_root and config.val_data_root:
        train_index, val_index = read_aihub(config.train_data_root), read_aihub(config.val_data_root)
        dataset = {"train": str(config.train_data_root), "val": str(config.val_data_root)}
        dataset.update(_synthetic_provenance(config.train_data_root))
    elif config.data_root:
        train_index, val_index = split_by_video(
            read_aihub(config.data_root), config.val_fraction, config.seed
        )
        dataset = {"root": str(config.data_root), "val_fraction": config.val_fraction, "seed": config.seed}
    else:
        raise SystemExit("give --data_root, or --train_data_root and --val_data_root, or --synthetic N")
    val_index = check_vocabulary(train_index, val_index)
    if not train_index.segments or not val_index.segments:
        raise SystemExit(
            f"need segments on both sides: {len(train_index.segments)} train, {len(val_index.segments)} val"
        )
    if config.background_class:
        train_index = _add_idle(config, train_index)
        if IDLE_CLASS in train_index.classes:  # else no gap was long enough: no background class
            val_index = _add_idle(config, val_index)
            dataset["idle_min_gap"] = max(config.idle_min_gap, config.clip_duration)
    return train_index, val_index, dataset


def _synthetic(config: SignTrainConfig, paths: RunPaths) -> SignTrainConfig:
    """``config`` reading --synthetic's train (seed) and val (seed + 1, a quarter of the videos)
    folders in the run folder, written unless they already hold that data (a rerun, a resumed
    run, or the other processes of a distributed one)."""
    look = {
        "size": parse_sizes(config.synthetic_sizes, "--synthetic_sizes"),
        "gaps": (GAP_SECONDS[0], config.synthetic_max_gap),
        "low_contrast": config.synthetic_low_contrast,
    }
    recorded = {  # as synthetic.json has them
        "sizes": [list(size) for size in look["size"]],
        "gaps": list(look["gaps"]),
        "low_contrast": look["low_contrast"],
    }
    roots = {}
    for split, seed, videos in (
        ("train", config.seed, config.synthetic),
        ("val", config.seed + 1, max(2, config.synthetic // 4)),
    ):
        root = (paths.root / "data" / split).resolve()
        write = partial(write_aihub_dataset, root, seed, videos, workers=min(4, os.cpu_count() or 1), **look)
        roots[split] = synthetic_once(root, {**recorded, "seed": seed, "videos": videos}, write)
    return replace(config, train_data_root=roots["train"], val_data_root=roots["val"])


def _initialise(module: SignClassifier, artifact: Path) -> dict[str, object]:
    """Load ``artifact``'s weights into ``module``; return what the new artifact records of it."""
    network, metadata = load_sign_model(artifact)
    if metadata["architecture"] != module.spec.name or list(metadata["classes"]) != module.classes:
        raise SystemExit(
            f"--init_from {artifact}: it is {metadata['architecture']} with classes {metadata['classes']}; "
            f"this run trains {module.spec.name} with {module.classes}"
        )
    module.model.load_state_dict(network.state_dict())
    recorded = {key: metadata.get(key) for key in ("command", "metrics", "weights_sha256")}
    return {**recorded, "path": str(artifact)}


def _synthetic_provenance(root: Path) -> dict[str, object]:
    """How the signing world drew ``root`` (its ``synthetic.json``), as the artifact records it, so
    a model trained on a synthetic folder written earlier keeps its provenance (and its domain
    statistics can be computed again); empty for other data."""
    info = dataset_provenance(root)
    if not info:
        return {}
    return {
        **{key: info[key] for key in ("generator", "seed", "videos")},
        "sizes": ",".join(f"{w}x{h}" for w, h in info["sizes"]),
        "max_gap_s": info["gaps"][1],
        "low_contrast": info.get("low_contrast", 0.0),
    }


def _add_idle(config: SignTrainConfig, index: AihubIndex) -> AihubIndex:
    """``index`` plus idle clips, as many as an average word has (a balanced background class)."""
    words = len(index.segments) / len(index.classes)
    added = with_idle(index, max(config.idle_min_gap, config.clip_duration), round(words), config.seed)
    LOG.info("background class: %d idle clips", len(added.segments) - len(index.segments))
    return added


def _glosses(classes: Sequence[str]) -> list[str]:
    """English glosses where the synthetic vocabulary knows the word; the word itself otherwise."""
    return [SIGN_WORDS.get(word, IDLE_GLOSS if word == IDLE_CLASS else word) for word in classes]


def _mean_duration(index: AihubIndex) -> float:
    """Average word segment length: the clip length inference should use when training took segments."""
    words = [s for s in index.segments if s.word != IDLE_CLASS]
    return round(sum(s.end_s - s.start_s for s in words) / len(words), 3)


def _exports(config: SignTrainConfig) -> list[Path]:
    artifact = config.artifact_path
    exports = []
    if config.export_mobile_model:
        exports.append(export_mobile(artifact, mobile_path(artifact)))
    if config.quantize_model:
        exports.append(export_int8(artifact, int8_path(artifact)))
    return exports


if __name__ == "__main__":
    raise SystemExit(main())
