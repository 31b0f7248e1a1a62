"""The standard Lightning Trainer of a run folder: TensorBoard (and wandb), best/last checkpoints,
per-step loss, resume, and where and in which precision it runs (device, devices, nodes, strategy,
precision) from flags every trainer shares."""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import os
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import Logger, TensorBoardLogger

from perception.core.devices import resolve_device
from perception_training.engine.callbacks import StepLoss
from perception_training.engine.flags import flag

LOG = logging.getLogger(__name__)
RANK_SEED_STRIDE = 100_003  # seed offset per process rank: ranks augment differently, rank 0 as alone
MIXED_PRECISIONS = ("16-mixed", "bf16-mixed")
PRECISIONS = ("auto", "32-true", *MIXED_PRECISIONS)


@dataclass(frozen=True)
class RunPaths:
    """Where a run's outputs go, all inside ``root`` (output_dir/experiment_name)."""

    root: Path

    @property
    def best_ckpt(self) -> Path:
        return self.root / "best.ckpt"

    @property
    def last_ckpt(self) -> Path:
        return self.root / "last.ckpt"

    @property
    def metrics_csv(self) -> Path:
        return self.root / "metrics.csv"

    @property
    def curves_png(self) -> Path:
        return self.root / "curves.png"

    @property
    def confusion_png(self) -> Path:
        return self.root / "confusion_matrix.png"

    @property
    def tensorboard(self) -> Path:
        return self.root / "tensorboard"

    @property
    def step_loss_csv(self) -> Path:
        return self.root / "step_loss.csv"

    @property
    def step_loss_png(self) -> Path:
        return self.root / "step_loss.png"


@dataclass(frozen=True)
class TrainerOptions:
    """Where and how a recipe runs; every trainer's config dataclass inherits these flags."""

    device: str = flag("auto", "auto (CUDA, then MPS, then CPU) | cpu | cuda[:N] | mps")
    devices: str = flag("1", "processes per node: a count, auto (all GPUs) or indices 0,1")
    num_nodes: int = flag(1, "machines taking part (Lightning num_nodes)")
    strategy: str = flag("auto", "Lightning strategy: auto, ddp, ddp_spawn, fsdp, ...")
    amp: bool = flag(True, "--precision auto: fp16 autocast on CUDA and MPS; CPU stays fp32")
    precision: str = flag(
        "auto",
        "auto (--amp decides) | 32-true | 16-mixed (CUDA, MPS) | bf16-mixed (CUDA, CPU)",
        choices=PRECISIONS,
    )
    threads: int = flag(0, "torch CPU threads (0: torch's default; 1 is fastest on a busy CPU)")
    wandb: bool = flag(False, "log to Weights & Biases too (offline unless WANDB_MODE says so)")


def start_process(threads: int) -> None:
    """A training command's log format, and torch's CPU threads (0 keeps torch's default)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if threads:
        torch.set_num_threads(threads)


def lightning_options(options: TrainerOptions, partial_freezing: bool = False) -> dict[str, Any]:
    """Trainer keyword arguments (accelerator, devices, num_nodes, strategy, precision) of ``options``.

    ``partial_freezing``: the recipe turns ``requires_grad`` off for some weights after DDP has
    wrapped the model, so DDP must look for parameters without gradients.
    """
    device = resolve_device(options.device)
    kind, _, index = device.partition(":")
    devices = (
        [int(index)] if options.device.strip().lower().startswith("cuda:") else _devices(options.devices)
    )
    strategy = options.strategy
    if partial_freezing and strategy in ("ddp", "ddp_spawn"):
        strategy += "_find_unused_parameters_true"
    return {
        "accelerator": "gpu" if kind == "cuda" else kind,
        "devices": devices,
        "num_nodes": options.num_nodes,
        "strategy": strategy,
        "precision": choose_precision(kind, options.precision, options.amp, mixed_precisions(kind)),
    }


def mixed_precisions(kind: str) -> tuple[str, ...]:
    """The mixed precisions torch trains in on device ``kind`` (cuda, mps or cpu) on this machine:
    fp16 on CUDA and on MPS where torch has MPS autocast, bf16 on CUDA GPUs with native bf16
    (Ampere and newer) and on the CPU."""
    if kind == "cuda":
        native_bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)
        return ("16-mixed", "bf16-mixed") if native_bf16 else ("16-mixed",)
    if kind == "mps":
        return ("16-mixed",) if torch.amp.is_autocast_available("mps") else ()
    if kind == "cpu":
        return ("bf16-mixed",) if torch.amp.is_autocast_available("cpu") else ()
    return ()


def choose_precision(kind: str, requested: str, amp: bool, mixed: Collection[str]) -> str:
    """The Lightning precision of a run on device ``kind`` whose mixed precisions are ``mixed``.

    ``auto``: ``16-mixed`` when ``amp`` asks for it and the device has it, else ``32-true``. Any
    other value is returned as it is, unless it is a mixed precision the device lacks: then
    SystemExit names the device's choices (Lightning would train fp16 on a CPU in bf16, warning).
    """
    if requested == "auto":
        return "16-mixed" if amp and "16-mixed" in mixed else "32-true"
    if requested in MIXED_PRECISIONS and requested not in mixed:
        choices = ", ".join(["32-true", *mixed])
        raise SystemExit(f"--precision {requested} is not supported on {kind} here; choose {choices}")
    return requested


def make_trainer(
    paths: RunPaths,
    epochs: int,
    monitor: str,
    mode: str,
    callbacks: Sequence[L.Callback] = (),
    precision: str = "32-true",
    devices: str | int | list[int] = "auto",
    *,
    wandb: bool = False,
    **trainer_options: Any,
) -> L.Trainer:
    """A Trainer that logs to TensorBoard, writes every training step's loss (:class:`StepLoss`)
    and keeps ``best.ckpt`` (by ``monitor``) and ``last.ckpt``.

    ``precision`` is checked against the device (:func:`choose_precision`; ``auto`` is fp16 AMP
    where the device has it). ``trainer_options`` go to :class:`lightning.Trainer` as they are
    (accelerator, num_nodes, strategy, gradient_clip_val, ...).
    """
    best = ModelCheckpoint(
        dirpath=paths.root,
        filename="best",
        monitor=monitor,
        mode=mode,
        save_top_k=1,
        enable_version_counter=False,  # overwrite best.ckpt, never best-v1.ckpt
    )
    # A checkpoint of its own for last.ckpt: Lightning 2.6's save_last only writes when the best
    # one did, so a run whose metric stalled left a stale last.ckpt to resume from.
    last = ModelCheckpoint(dirpath=paths.root, filename="last", save_top_k=1, enable_version_counter=False)
    accelerator = trainer_options.pop("accelerator", "auto")
    kind = _device_kind(accelerator)
    return L.Trainer(
        default_root_dir=paths.root,
        max_epochs=epochs,
        accelerator=accelerator,
        devices=int(devices) if str(devices).isdigit() else devices,
        precision=choose_precision(kind, precision, True, mixed_precisions(kind)),
        logger=_loggers(paths, wandb),
        callbacks=[best, last, StepLoss(paths.step_loss_csv, paths.step_loss_png), *callbacks],
        log_every_n_steps=1,
        **trainer_options,
    )


def recipe_trainer(
    paths: RunPaths,
    options: TrainerOptions,
    epochs: int,
    monitor: str,
    callbacks: Sequence[L.Callback],
    partial_freezing: bool = False,
    **trainer_options: Any,
) -> L.Trainer:
    """:func:`make_trainer` for a recipe whose config inherits :class:`TrainerOptions` (best =
    highest ``monitor``): where it runs, wandb, no sanity check (validation runs whole after
    every epoch), and training loaders rebuilt every epoch (each draws its epoch's data);
    ``trainer_options`` override these defaults."""
    defaults = {"num_sanity_val_steps": 0, "reload_dataloaders_every_n_epochs": 1}
    return make_trainer(
        paths,
        epochs,
        monitor,
        "max",
        callbacks,
        wandb=options.wandb,
        **lightning_options(options, partial_freezing),
        **{**defaults, **trainer_options},
    )


def resume_from(paths: RunPaths, resume: bool) -> Path | None:
    """``last.ckpt`` when resuming (SystemExit naming it when it is missing), else None."""
    if not resume:
        return None
    if not paths.last_ckpt.is_file():
        raise SystemExit(f"--resume: {paths.last_ckpt} does not exist; run without --resume first")
    return paths.last_ckpt


def epoch_seed(trainer: L.Trainer, seed: int) -> int:
    """The seed of the current epoch on this process: ``seed + epoch`` alone or on rank 0.

    Reseeding every epoch from it makes a resumed run draw what an unbroken one would have.
    """
    return seed + trainer.current_epoch + RANK_SEED_STRIDE * trainer.global_rank


def batches_per_epoch(samples: int, batch_size: int, trainer: L.Trainer) -> int:
    """Optimizer steps one epoch of ``samples`` takes on each process (a distributed sampler pads
    the samples to a multiple of the world size), without building the epoch's loader."""
    return math.ceil(math.ceil(samples / trainer.world_size) / batch_size)


def dataset_provenance(root: Path | None) -> dict[str, Any]:
    """Generator, seed and counts a synthetic writer recorded in ``root/synthetic.json``, if any."""
    info = root / "synthetic.json" if root else None
    return json.loads(info.read_text(encoding="utf-8")) if info and info.is_file() else {}


def _devices(text: str) -> int | str | list[int]:
    text = str(text).strip()
    if "," in text:
        return [int(part) for part in text.split(",") if part.strip()]
    return int(text) if text.isdigit() else text


def _device_kind(accelerator: object) -> str:
    """cuda, mps or cpu: the device a Trainer with ``accelerator`` runs on (``auto`` as Lightning
    picks it: CUDA, then MPS, then the CPU)."""
    name = resolve_device("auto") if accelerator == "auto" else str(accelerator)
    kind = name.partition(":")[0]
    return "cuda" if kind == "gpu" else kind


def _loggers(paths: RunPaths, use_wandb: bool) -> list[Logger]:
    """TensorBoard in ``paths.tensorboard``; with ``use_wandb`` also Weights & Biases in
    ``paths.root/wandb``, offline (nothing sent) unless ``WANDB_MODE`` says otherwise."""
    loggers: list[Logger] = [TensorBoardLogger(save_dir=paths.tensorboard, name="", version="")]
    if not use_wandb:
        return loggers
    if importlib.util.find_spec("wandb") is None:
        raise SystemExit("--wandb: wandb is not installed; install requirements/training.txt")
    import wandb
    from lightning.pytorch.loggers import WandbLogger

    if wandb.run is not None:
        wandb.finish()  # an earlier Trainer's run in this process: each Trainer logs a run of its own
    mode = os.environ.setdefault("WANDB_MODE", "offline")  # DDP's child processes inherit it
    loggers.append(
        WandbLogger(
            project="perception",
            save_dir=str(paths.root),
            name=paths.root.name,
            offline=mode in ("offline", "dryrun"),
        )
    )
    return loggers


def synthetic_once(
    root: Path, settings: dict[str, Any], write: Callable[[], Path], entry: str | None = None
) -> Path:
    """``write()``'s result, without writing again when ``root/synthetic.json`` already records
    ``settings`` (a rerun of the same command, or a launcher's child process joining a
    distributed run whose rank 0 wrote the data): the world is seeded, so the files would be the
    same. Reused data is returned as ``root``, or ``root / entry`` (e.g. its data.yaml)."""
    recorded = dataset_provenance(root)
    if recorded and all(recorded.get(key) == value for key, value in settings.items()):
        LOG.info("%s already holds this synthetic data (%s); not writing it again", root, settings)
        return root / entry if entry else root
    return write()
