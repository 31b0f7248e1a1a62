"""``perception-train classify``: train an image classifier from a recipe, or resume a run.

A run lives in ``OUT/<recipe>/<timestamp>/``: ``best.safetensors`` (best validation top-1, the
deployable artifact), ``latest.safetensors`` (the last epoch), ``last.ckpt`` / ``best.ckpt``
(Lightning: what ``--resume`` continues), metrics.csv, curve PNGs, TensorBoard logs, dataset
plots and, at the end, the per-class table, confusion matrix and ``best_test_preds.csv`` of the
best model. Every recipe setting is also an option (``--lr``, ``--freeze-epochs`` ...) that
overrides the recipe; a resumed run starts from its stored settings instead.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any

import lightning as L

from perception.core.artifacts import load_artifact, save_artifact
from perception.core.devices import resolve_device
from perception.core.domain import model_tensors
from perception_training.classification import reports
from perception_training.classification.data import ClassificationDataModule
from perception_training.classification.evaluation import evaluate
from perception_training.classification.module import ClassifierModule
from perception_training.classification.readers import ClassificationData, read_dataset
from perception_training.classification.recipes import RECIPES, TrainConfig
from perception_training.engine.callbacks import (
    ArtifactExport,
    CurvePlots,
    MetricsCsv,
    PreciseBatchNorm,
    StopAfter,
)
from perception_training.engine.flags import add_flags, config_from, flag
from perception_training.engine.plots import Chart, plot_confusion
from perception_training.engine.run import (
    RunPaths,
    dataset_provenance,
    recipe_trainer,
    resume_from,
    start_process,
)
from perception_training.engine.tables import write_rows
from perception_training.ood.calibrate import DEFAULT_CALIBRATION, calibrate_trained

LOG = logging.getLogger(__name__)
MONITOR = "val_top1"
LATEST, BEST, RUN_JSON = "latest.safetensors", "best.safetensors", "run.json"
RUN_DIR_ENV = "PERCEPTION_RUN_DIR"  # a launcher's child processes join the run folder rank 0 made
CHARTS = (
    Chart("curves_loss.png", ("train_loss", "val_loss"), "loss"),
    Chart("curves_accuracy.png", ("train_top1", "train_top5", "val_top1", "val_top5"), "accuracy"),
)


@dataclass(frozen=True)
class RunOptions:
    """What to train on and where the run goes; the recipe's settings are flags of their own."""

    recipe: str = flag("glass-synthetic", "preset settings", choices=sorted(RECIPES))
    data: Path | None = flag(None, "ImageFolder or Tiny-ImageNet-200 folder")
    out: Path = flag(Path("runs"), "runs go to OUT/<recipe>/<run name>/")
    run_name: str | None = flag(None, "run folder name (default: a timestamp; on SLURM the job id)")
    resume: Path | None = flag(None, "a run folder (or a file in it) to continue")
    stop_after: int | None = flag(None, "end this session after that epoch (resume later)")
    export: Path | None = flag(None, "also copy the best artifact here (e.g. models/glass/...)")
    ood_calibration: int = flag(DEFAULT_CALIBRATION, "held-out crops for the domain threshold (0: none)")


@dataclass(frozen=True)
class Run:
    """A run resolved from the options: its settings, data, folder and name."""

    config: TrainConfig
    data: ClassificationData
    run_dir: Path
    task: str
    resuming: bool


def main(argv: Sequence[str] | None = None, prog: str = "perception-train classify") -> int:
    parser = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_flags(parser, RunOptions)
    add_flags(parser.add_argument_group("settings (override the recipe)"), TrainConfig, overrides=True)
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    options = config_from(args, RunOptions)
    run = _resolve(options, {spec.name: getattr(args, spec.name) for spec in fields(TrainConfig)}, prog)
    start_process(run.config.threads)
    summary = train(run, shlex.join([*prog.split(), *argv]), options.stop_after)
    if summary and options.export:
        options.export.parent.mkdir(parents=True, exist_ok=True)
        options.export.write_bytes((run.run_dir / BEST).read_bytes())
        LOG.info("exported %s -> %s", run.run_dir / BEST, options.export)
        calibrate_trained(options.export, options.ood_calibration)
    if summary:
        print(json.dumps(summary, indent=2))
    return 0


def train(run: Run, command: str, stop_after: int | None = None) -> dict[str, Any]:
    """Fit, then (on rank 0) report on the best model; return the summary ({} on other ranks)."""
    config, data = run.config, run.data
    paths = RunPaths(run.run_dir)
    checkpoint = resume_from(paths, run.resuming)
    L.seed_everything(config.seed, workers=True)  # the same initial weights for the same config
    datamodule = ClassificationDataModule(data, config)
    dataset = _dataset_metadata(data, config)
    module = ClassifierModule(asdict(config), data.classes, data.descriptions, run.task, dataset)
    callbacks = [
        MetricsCsv(paths.metrics_csv, epoch_offset=1),
        ArtifactExport(run.run_dir / BEST, command, MONITOR, "max", epoch_offset=1),
        ArtifactExport(run.run_dir / LATEST, command, None, epoch_offset=1),
        CurvePlots(paths.metrics_csv, charts=CHARTS),
        PreciseBatchNorm(),
        StopAfter(stop_after),
    ]
    trainer = recipe_trainer(paths, config, config.epochs, MONITOR, callbacks, config.freeze_epochs > 0)
    if trainer.is_global_zero:
        record = {"task": run.task, "command": command, "data": str(data.root), "classes": data.classes}
        (run.run_dir / RUN_JSON).write_text(
            json.dumps({**record, "config": asdict(config)}, indent=2, default=str)
        )
        if not run.resuming:
            reports.plot_dataset(data, run.run_dir)
    with _children_join(run.run_dir):
        trainer.fit(module, datamodule=datamodule, ckpt_path=checkpoint)
    if not trainer.is_global_zero:
        return {}
    return {"run_dir": str(run.run_dir), **_final_report(module, datamodule, run)}


def _resolve(options: RunOptions, overrides: dict[str, Any], prog: str) -> Run:
    """Settings, data and run folder: from the recipe, or from the run being resumed."""
    if options.resume:
        run_dir = options.resume if options.resume.is_dir() else options.resume.parent
        stored = json.loads((run_dir / RUN_JSON).read_text())
        config = TrainConfig.from_dict(stored["config"]).with_overrides(overrides)
        data = read_dataset(options.data or Path(stored["data"]), config.val_fraction, config.seed)
        if stored["classes"] != data.classes:
            raise SystemExit(
                f"{run_dir} was trained on classes {stored['classes']}, the dataset has {data.classes}; "
                "resume with the dataset the run started with"
            )
        return Run(config, data, run_dir, stored["task"], resuming=True)
    if options.data is None:
        raise SystemExit(f"{prog}: --data is required unless --resume is given")
    config = RECIPES[options.recipe].with_overrides(overrides)
    data = read_dataset(options.data, config.val_fraction, config.seed)
    return Run(config, data, _run_dir(options), options.recipe, resuming=False)


def _run_dir(options: RunOptions) -> Path:
    """``OUT/recipe/<run name or YYYYmmdd-HHMMSS>`` (a timestamp is suffixed when two runs start in
    the same second); a launcher's child processes take the one their rank 0 made (:func:`_children_join`)."""
    if RUN_DIR_ENV in os.environ:
        return Path(os.environ[RUN_DIR_ENV])
    folder = options.out / options.recipe
    if options.run_name:
        run_dir = folder / options.run_name
    else:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        run_dir, suffix = folder / stamp, 1
        while run_dir.exists():
            run_dir, suffix = folder / f"{stamp}-{suffix}", suffix + 1
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


@contextmanager
def _children_join(run_dir: Path) -> Iterator[None]:
    """While fitting, processes a launcher starts (they rerun this command) use ``run_dir``."""
    os.environ[RUN_DIR_ENV] = str(run_dir)
    try:
        yield
    finally:
        del os.environ[RUN_DIR_ENV]


def _dataset_metadata(data: ClassificationData, config: TrainConfig) -> dict[str, Any]:
    return {
        "root": str(data.root),
        "format": data.format,
        "split_seed": config.seed,
        "val_from_train": data.val_from_train,
        "sizes": {split: len(samples) for split, samples in data.splits.items()},
        **dataset_provenance(data.root),
    }


def _final_report(module: ClassifierModule, datamodule: ClassificationDataModule, run: Run) -> dict[str, Any]:
    """Evaluate the best artifact on test (val when test is unlabelled); write the reports and
    the test metrics into the artifact; return its scalar metrics."""
    best = run.run_dir / BEST
    tensors, metadata = load_artifact(best)
    device = resolve_device(run.config.device)
    model = module.model.to(device)
    model.load_state_dict(model_tensors(tensors))
    amp = run.config.amp and device.startswith("cuda")
    data, classes = run.data, run.data.classes
    split = "test" if data.labelled("test") else "val"
    evaluation = evaluate(model, datamodule.eval_loader(split), device, amp, f"report {split}")
    rows = evaluation.per_class(classes)
    write_rows(run.run_dir / "per_class.csv", rows)
    summary = evaluation.summary()
    header = f"Best epoch {metadata['metrics']['epoch']}, {split} split: " + ", ".join(
        f"{k} {v:.4f}" for k, v in summary.items()
    )
    (run.run_dir / "per_class.md").write_text(f"{header}\n\n{reports.per_class_markdown(rows)}")
    plot_confusion(evaluation.confusion().numpy(), classes, run.run_dir / "confusion_matrix.png", header)
    predicted = "test" if "test" in data.splits else "val"
    if predicted != split:
        evaluation = evaluate(model, datamodule.eval_loader(predicted), device, amp, f"predict {predicted}")
    reports.write_predictions(
        run.run_dir / "best_test_preds.csv", evaluation, data.splits[predicted], classes, predicted
    )
    metrics = {
        **metadata["metrics"],
        **{f"{split}_{k}": v for k, v in summary.items()},
        f"{split}_per_class_accuracy": {r["class"]: r["accuracy"] for r in rows},
    }
    save_artifact(best, tensors, {**metadata, "metrics": metrics})
    LOG.info("best model: %s; reports in %s", header, run.run_dir)
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float))}


if __name__ == "__main__":
    raise SystemExit(main())
