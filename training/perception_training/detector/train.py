"""Train yolo11n on the synthetic world (or a YOLO / COCO data set), test it, write the artifact.

Steps: write the seeded synthetic YOLO dataset (train/val/test) or prepare the user's YOLO/COCO
data (``--data``), train ultralytics YOLO from its architecture yaml (or fine-tune from our
artifact or a local ``.pt`` with ``--init-from``) fully offline, evaluate the best checkpoint on
the held-out test split, and save it with
:func:`perception_training.detector.artifact.save_detector` plus everything needed to reproduce it.
ultralytics' run folders stay under ``.cache``; its plots are copied to ``docs/images``.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2

from perception.core.artifacts import code_version
from perception.core.ultralytics_env import import_ultralytics
from perception_training.detector.artifact import save_detector
from perception_training.detector.data import TrainingData, synthetic_data, user_data
from perception_training.detector.export import export_detector
from perception_training.engine.flags import add_flags, config_from, flag
from perception_training.ood.calibrate import DEFAULT_CALIBRATION, calibrate_trained
from perception_training.synthetic.sim2real import add_sim2real_argument, sim2real_from_args
from perception_training.synthetic.writers.yolo import DEFAULT_KINDS, scene_spec

LOG = logging.getLogger("perception_training.detector")

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_OUT = REPO_ROOT / "models" / "detector" / "yolo11n_synthetic.safetensors"
DEFAULT_DOCS_IMAGES = REPO_ROOT / "docs" / "images"
DOCS_MAX_WIDTH = 960
# ultralytics output file -> our docs name; test_* come from the held-out test evaluation.
PLOTS = {
    "train/results.png": "detector_training_curves.png",
    "test/confusion_matrix_normalized.png": "detector_confusion_matrix.png",
    "test/BoxPR_curve.png": "detector_pr_curve.png",
    "test/val_batch0_pred.jpg": "detector_test_predictions.png",
}


def _optional_path(text: str) -> Path | None:
    """``''`` -> None ("skip"), which a plain Path flag cannot say (``Path('')`` is the working folder)."""
    return Path(text) if text else None


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides the trained detector; each field is a command-line flag (defaults are
    the committed demo artifact's); stored in the artifact's metadata."""

    out: Path = flag(DEFAULT_OUT, "artifact to write (.safetensors)")
    architecture: str = flag("yolo11n", "ultralytics architecture yaml stem")
    init_from: Path | None = flag(
        None,
        "fine-tune from our detector artifact (.safetensors, e.g. the shipped one) or an ultralytics "
        ".pt instead of random weights",
        aliases=("--weights",),
    )
    data: Path | None = flag(
        None,
        "train on this YOLO data.yaml (with a test split), COCO instances .json, or YAML pointing to "
        "COCO files (docs/real-robot.md) instead of the synthetic world",
    )
    seed: int = flag(0, "synthetic world and training seed")
    sim2real: tuple[str, ...] = flag(
        (), "synthetic.sim2real options of the synthetic data set (parse_args: bare = all)"
    )
    scene_kinds: tuple[str, ...] = flag(
        DEFAULT_KINDS,
        "synthetic scene kinds used in turn (mixed, glass, caption, plain); KIND+NAME makes each such "
        "scene include a NAME, e.g. 'mixed glass mixed+knife' puts a knife in every third scene",
        nargs="+",
        metavar="KIND",
    )
    train_images: int = flag(400, "synthetic training images")
    val_images: int = flag(60, "synthetic validation images")
    test_images: int = flag(100, "synthetic test images")
    scene_size: tuple[int, int] = field(default=(640, 480), init=False)  # the camera's; not a flag
    imgsz: int = flag(320, "network input size (pixels, long side)")
    epochs: int = flag(40, "training epochs")
    max_minutes: float | None = flag(
        None, "training time budget; ultralytics fits the epochs (and LR schedule) to it"
    )
    batch: int = flag(16, "images per batch (and per optimiser step)")
    workers: int = flag(2, "dataloader worker processes")
    device: str = flag("cpu", "cpu, cuda:0, mps, ... (passed to ultralytics)")
    lr0: float = flag(0.002, "initial learning rate")
    optimizer: str = flag("AdamW", "ultralytics optimizer name (AdamW, SGD, auto)")
    mosaic: float = flag(1.0, "mosaic augmentation probability")
    close_mosaic: int = flag(5, "final epochs without mosaic")
    val_each_epoch: bool = flag(
        True,
        "validate after every epoch; --no-val-each-epoch: only after the last (saves about 8%% of the "
        "time; no learning curves)",
    )
    work_dir: Path | None = flag(None, "dataset and ultralytics runs folder (None: .cache/detector)")
    docs_images: Path | None = flag(DEFAULT_DOCS_IMAGES, "where plots go ('' to skip)", type=_optional_path)
    ood_calibration: int = flag(
        DEFAULT_CALIBRATION,
        "held-out scenes that calibrate the artifact's out-of-domain threshold (docs/ood.md); "
        "0 = write no domain statistics",
    )

    @property
    def counts(self) -> dict[str, int]:
        """Images per split, as the synthetic writer takes them and the artifact's metadata stores them."""
        return {"train": self.train_images, "val": self.val_images, "test": self.test_images}


@dataclass(frozen=True)
class TrainResult:
    """What a run produced: the artifact and its test-split metrics."""

    artifact: Path
    metrics: dict[str, Any]
    run_dir: Path


def default_work_dir() -> Path:
    """``$PERCEPTION_ROOT/.cache/detector`` (kept out of git), else a temp folder."""
    root = os.environ.get("PERCEPTION_ROOT")
    if root:
        return Path(root) / ".cache" / "detector"
    return Path(tempfile.gettempdir()) / "perception-detector"


def starting_weights(init_from: Path | None, work_dir: Path) -> Path | None:
    """The ultralytics ``.pt`` to fine-tune from: a user's ``.pt`` as it is, our artifact exported
    to one (ultralytics transfers the layers whose shapes fit the new classes); None = from scratch."""
    if init_from is None:
        return None
    if not init_from.is_file():
        raise FileNotFoundError(f"--init-from {init_from}: no such file")
    if init_from.suffix == ".pt":
        return init_from
    if init_from.suffix == ".safetensors":
        return export_detector(init_from, work_dir / "init", formats=("pt",))["pt"]
    raise ValueError(
        f"--init-from {init_from}: use our detector artifact (.safetensors) or an ultralytics .pt checkpoint"
    )


def training_data(config: TrainConfig, work_dir: Path) -> TrainingData:
    """The user's data set (``--data``) or the synthetic world's."""
    if config.data is not None:
        return user_data(Path(config.data), work_dir)
    LOG.info(
        "writing synthetic YOLO dataset (seed %d, %s, scene kinds %s, sim2real %s)",
        config.seed,
        config.counts,
        config.scene_kinds,
        config.sim2real,
    )
    return synthetic_data(
        work_dir, config.seed, config.counts, config.scene_size, config.sim2real, config.scene_kinds
    )


def train(config: TrainConfig, command: str | None = None) -> TrainResult:
    """Run the whole pipeline for ``config``; ``command`` is recorded (default: this process's argv)."""
    ultralytics = import_ultralytics()
    work_dir = Path(config.work_dir or default_work_dir()).resolve()  # ultralytics nests relative ones
    runs = work_dir / "runs" / time.strftime("%Y%m%d-%H%M%S")
    weights = starting_weights(config.init_from, work_dir)
    data = training_data(config, work_dir)
    data_yaml = data.data_yaml

    model = ultralytics.YOLO(str(weights) if weights else f"{config.architecture}.yaml", task="detect")
    started = time.monotonic()
    model.train(
        data=str(data_yaml),
        epochs=config.epochs,
        time=config.max_minutes / 60 if config.max_minutes else None,
        imgsz=config.imgsz,
        batch=config.batch,
        nbs=config.batch,  # one optimiser step per batch: few hundred images need every step
        workers=config.workers,
        device=config.device,
        seed=config.seed,
        optimizer=config.optimizer,
        lr0=config.lr0,
        mosaic=config.mosaic,
        close_mosaic=config.close_mosaic,
        val=config.val_each_epoch,
        pretrained=weights is not None,
        amp=False,
        cache="ram",
        plots=True,
        project=str(runs),
        name="train",
        exist_ok=True,
        verbose=False,
    )
    train_seconds = time.monotonic() - started
    best = Path(model.trainer.best)
    metrics = evaluate(best, data_yaml, config, runs)
    metrics["train_seconds"] = round(train_seconds, 1)
    metrics["epochs"] = model.trainer.epoch + 1
    LOG.info(
        "test split: mAP50 %.3f, mAP50-95 %.3f, per class %s",
        metrics["map50"],
        metrics["map50_95"],
        metrics["ap50"],
    )

    trained = ultralytics.YOLO(str(best), task="detect").model.float()
    artifact = save_detector(
        config.out,
        trained,
        {
            # a fine-tuned .pt keeps its own architecture (yolo11s, ...), whatever --architecture says
            "architecture": Path(trained.yaml.get("yaml_file", config.architecture)).stem,
            "input_size": config.imgsz,
            "metrics": metrics,
            "command": command or shlex.join(sys.argv),
            "dataset": data.record,
            "training": stored_settings(config),
            "code_version": code_version(),
            "ultralytics_version": ultralytics.__version__,
            "source_weights": str(config.init_from) if config.init_from else None,
        },
    )
    LOG.info("wrote %s (%.1f MB)", artifact, artifact.stat().st_size / 1e6)
    calibrate_trained(artifact, config.ood_calibration)  # only data the world can draw again
    if config.docs_images is not None:
        copy_plots(runs, Path(config.docs_images))
    return TrainResult(artifact=artifact, metrics=metrics, run_dir=runs)


def stored_settings(config: TrainConfig) -> dict[str, Any]:
    """The artifact's "training" metadata: the config less where outputs go, the image counts as one
    ``counts`` (the layout every detector artifact has, the committed one included)."""
    left_out = {"out", "docs_images", "work_dir", "train_images", "val_images", "test_images"}
    settings = {**asdict(config), "counts": config.counts}
    return {key: _jsonable(value) for key, value in settings.items() if key not in left_out}


def evaluate(weights: Path, data_yaml: Path, config: TrainConfig, runs: Path) -> dict[str, Any]:
    """mAP50, mAP50-95 and per-class AP50 of ``weights`` on the test split (by ultralytics' val)."""
    ultralytics = import_ultralytics()
    result = ultralytics.YOLO(str(weights), task="detect").val(
        data=str(data_yaml),
        split="test",
        imgsz=config.imgsz,
        batch=config.batch,
        device=config.device,
        workers=config.workers,
        plots=True,
        project=str(runs),
        name="test",
        exist_ok=True,
        verbose=False,
    )
    names = result.names
    ap50 = {
        names[int(c)]: round(float(v), 4)
        for c, v in zip(result.box.ap_class_index, result.box.ap50, strict=True)
    }
    return {
        "split": "test",
        "map50": round(float(result.box.map50), 4),
        "map50_95": round(float(result.box.map), 4),
        "precision": round(float(result.box.mp), 4),
        "recall": round(float(result.box.mr), 4),
        "ap50": ap50,
    }


def copy_plots(runs: Path, docs_images: Path) -> list[Path]:
    """Copy ultralytics' curves, confusion matrix and predictions to ``docs_images`` as PNG.

    Images wider than DOCS_MAX_WIDTH are downscaled so the docs stay light in git.
    """
    docs_images.mkdir(parents=True, exist_ok=True)
    copied = []
    for source, name in PLOTS.items():
        image = cv2.imread(str(runs / source))
        if image is None:
            LOG.warning("ultralytics did not write %s; skipping %s", runs / source, name)
            continue
        if image.shape[1] > DOCS_MAX_WIDTH:
            height = round(image.shape[0] * DOCS_MAX_WIDTH / image.shape[1])
            image = cv2.resize(image, (DOCS_MAX_WIDTH, height), interpolation=cv2.INTER_AREA)
        target = docs_images / name
        cv2.imwrite(str(target), image)
        copied.append(target)
    return copied


def parse_args(argv: Sequence[str] | None, prog: str) -> TrainConfig:
    """The flags of every TrainConfig field; ``--sim2real [OPTION ...]`` is the synthetic world's
    shared flag (absent = off, bare = all options, as ``perception-train caption``)."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        conflict_handler="resolve",  # add_sim2real_argument replaces the field's one-value flag
    )
    add_flags(parser, TrainConfig)
    add_sim2real_argument(parser)
    args = parser.parse_args(argv)
    if args.data is not None and args.sim2real is not None:
        parser.error("--sim2real changes the synthetic world; it does nothing with --data")
    try:
        for kind in args.scene_kinds:
            scene_spec(kind)
    except ValueError as error:
        parser.error(f"--scene-kinds: {error}")
    args.sim2real = sim2real_from_args(args.sim2real)
    return config_from(args, TrainConfig)


def main(argv: Sequence[str] | None = None, prog: str = "perception-train detector") -> int:
    """CLI entry: train, print the test metrics, return 0."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    argv = list(sys.argv[1:] if argv is None else argv)
    config = parse_args(argv, prog)
    result = train(config, command=shlex.join([*prog.split(), *argv]))
    metrics = result.metrics
    print(f"{result.artifact}: test mAP50 {metrics['map50']:.3f}, trained {metrics['train_seconds']:.0f} s")
    return 0


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    return value
