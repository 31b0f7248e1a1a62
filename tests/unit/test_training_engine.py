"""The training engine's pieces: flags from a config dataclass, metrics CSV rows, optimizers and
per-step schedules, where Lightning runs and in which precision, the loss of every step, offline
Weights & Biases, and synthetic data written once."""

from __future__ import annotations

import csv
import importlib.util
import itertools
import json
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
from lightning.pytorch.demos.boring_classes import BoringModel
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from perception_training.engine.flags import build_parser, flag, parse_config, parse_counts
from perception_training.engine.optim import make_optimizer, per_step_schedule
from perception_training.engine.run import (
    RunPaths,
    TrainerOptions,
    choose_precision,
    lightning_options,
    make_trainer,
    recipe_trainer,
    synthetic_once,
)
from perception_training.engine.tables import append_row, read_rows


@dataclass(frozen=True)
class Settings:
    batch_size: int = flag(64, "images per step", aliases=("--batch",))
    encoder_weights: Path | None = None
    meteor: bool = True
    optimizer: str = flag("adam", "optimizer", choices=("adam", "sgd"))


def test_every_field_is_a_flag_in_both_spellings_with_its_aliases() -> None:
    assert parse_config(Settings, [], "p", "d") == Settings()
    parsed = parse_config(Settings, ["--batch", "8", "--encoder_weights", "w.pt", "--no-meteor"], "p", "d")
    assert parsed == Settings(batch_size=8, encoder_weights=Path("w.pt"), meteor=False)
    assert parse_config(Settings, ["--batch-size", "4", "--encoder-weights", "x"], "p", "d").batch_size == 4
    with pytest.raises(SystemExit):
        parse_config(Settings, ["--optimizer", "lamb"], "p", "d")
    assert "images per step" in build_parser(Settings, "p").format_help()
    assert parse_counts("20,4,4", ("train", "val", "test"), "--synthetic") == {
        "train": 20,
        "val": 4,
        "test": 4,
    }
    with pytest.raises(SystemExit, match="--synthetic wants TRAIN,VAL image counts"):
        parse_counts("20", ("train", "val"), "--synthetic")


def test_a_row_with_a_new_column_keeps_every_column_aligned(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    append_row(path, {"epoch": 1, "loss": 0.5, "METEOR": 0.3})
    append_row(path, {"epoch": 2, "loss": 0.4, "METEOR": 0.35})
    append_row(path, {"epoch": 3, "ROUGE-L": 0.6, "loss": 0.3})  # METEOR skipped, ROUGE-L new
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["epoch", "loss", "METEOR", "ROUGE-L"]
    assert [(r["epoch"], r["loss"], r["METEOR"], r["ROUGE-L"]) for r in rows] == [
        ("1", "0.5", "0.3", ""), ("2", "0.4", "0.35", ""), ("3", "0.3", "", "0.6"),
    ]  # fmt: skip


def _schedule(kind: str, total: int, warmup: int = 0) -> tuple[torch.optim.Optimizer, object]:
    weights = [torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))]
    groups = [{"params": [weights[0]], "lr": 1e-3}, {"params": [weights[1]], "lr": 1e-4}]
    optimizer = make_optimizer("adam", groups, 1e-3)
    return optimizer, per_step_schedule(optimizer, total, warmup, kind)["scheduler"]


def _run(optimizer: torch.optim.Optimizer, scheduler: object, steps: int) -> list[list[float]]:
    rates = []
    for _ in range(steps):
        rates.append([group["lr"] for group in optimizer.param_groups])
        optimizer.step()
        scheduler.step()
    return rates


def test_cosine_decays_every_group_to_zero_after_a_warm_up_and_a_restored_state_continues_it() -> None:
    rates = _run(*_schedule("cosine", total=10), 11)
    assert rates[0] == pytest.approx([1e-3, 1e-4]) and rates[5] == pytest.approx([5e-4, 5e-5])
    assert rates[10] == pytest.approx([0.0, 0.0], abs=1e-12)
    assert all(a[0] > b[0] for a, b in itertools.pairwise(rates))
    warm = _run(*_schedule("cosine", total=10, warmup=4), 5)
    assert [row[0] for row in warm] == pytest.approx([2.5e-4, 5e-4, 7.5e-4, 1e-3, 1e-3])
    stopped, resumed = _schedule("cosine", 10), _schedule("cosine", 10)  # what a checkpoint carries over
    _run(*stopped, 4)
    for new, old in zip(resumed, stopped, strict=True):
        new.load_state_dict(old.state_dict())
    assert [pytest.approx(row) for row in rates[4:7]] == _run(*resumed, 3)
    assert _run(*_schedule("constant", total=10), 3) == [[1e-3, 1e-4]] * 3
    with pytest.raises(ValueError, match="unknown learning-rate schedule 'step'"):
        _schedule("step", total=10)
    with pytest.raises(ValueError, match="unknown optimizer 'lamb'"):
        make_optimizer("lamb", [torch.nn.Parameter(torch.zeros(1))], 1e-3)
    for name, kind in (("adamw", torch.optim.AdamW), ("nadam", torch.optim.NAdam), ("sgd", torch.optim.SGD)):
        assert isinstance(make_optimizer(name, [torch.nn.Parameter(torch.zeros(1))], 1e-3), kind)


def test_device_flags_become_lightning_options() -> None:
    options = lightning_options(
        TrainerOptions(device="cpu", devices="2", strategy="ddp"), partial_freezing=True
    )
    assert options == {
        "accelerator": "cpu",
        "devices": 2,
        "num_nodes": 1,
        "strategy": "ddp_find_unused_parameters_true",  # requires_grad changes after DDP wrapped the model
        "precision": "32-true",  # no fp16 autocast on the CPU
    }
    assert lightning_options(TrainerOptions(device="cpu", devices="0,1", num_nodes=2))["devices"] == [0, 1]
    assert lightning_options(TrainerOptions(device="cpu", strategy="ddp"))["strategy"] == "ddp"


def test_precision_is_chosen_and_checked_per_device(tmp_path: Path) -> None:
    cuda, ampere, mps, cpu = ("16-mixed",), ("16-mixed", "bf16-mixed"), ("16-mixed",), ("bf16-mixed",)
    assert choose_precision("cuda", "auto", True, cuda) == "16-mixed"
    assert choose_precision("mps", "auto", True, mps) == "16-mixed"
    assert choose_precision("mps", "auto", True, ()) == "32-true"  # a torch without MPS autocast
    assert choose_precision("cpu", "auto", True, cpu) == "32-true"  # AMP on the CPU only when asked
    assert choose_precision("cuda", "auto", False, cuda) == "32-true"  # --no-amp
    assert choose_precision("cuda", "bf16-mixed", True, ampere) == "bf16-mixed"
    assert choose_precision("cpu", "bf16-mixed", False, cpu) == "bf16-mixed"  # asked for: --amp aside
    assert choose_precision("cpu", "32-true", True, cpu) == "32-true"
    with pytest.raises(
        SystemExit, match="--precision 16-mixed is not supported on cpu here; choose 32-true, bf16"
    ):
        choose_precision("cpu", "16-mixed", True, cpu)
    with pytest.raises(
        SystemExit, match=r"bf16-mixed is not supported on cuda here; choose 32-true, 16-mixed$"
    ):
        choose_precision("cuda", "bf16-mixed", True, cuda)  # a GPU older than Ampere
    with pytest.raises(SystemExit, match="not supported on mps"):
        choose_precision("mps", "bf16-mixed", True, mps)
    cpu_bf16 = TrainerOptions(device="cpu", precision="bf16-mixed")
    assert lightning_options(cpu_bf16)["precision"] == "bf16-mixed"
    with pytest.raises(SystemExit, match="not supported on cpu"):
        lightning_options(TrainerOptions(device="cpu", precision="16-mixed"))
    with pytest.raises(SystemExit, match="not supported on cpu"):  # make_trainer checks a trainer's own flag
        make_trainer(RunPaths(tmp_path), 1, "val_score", "max", precision="16-mixed", accelerator="cpu")
    trainer = make_trainer(
        RunPaths(tmp_path), 1, "val_score", "max", precision="bf16-mixed", accelerator="cpu"
    )
    assert trainer.precision == "bf16-mixed"


class LoggingModel(BoringModel):
    """Lightning's demo model, logging a training loss and a validation score."""

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> dict[str, torch.Tensor]:
        output = super().training_step(batch, batch_idx)
        self.log("train_loss", output["loss"], on_step=False, on_epoch=True)
        return output

    def validation_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        self.log("val_score", -super().validation_step(batch, batch_idx)["x"])


def _fit(paths: RunPaths, epochs: int, resume: bool = False) -> float:
    """Train the demo model with four steps an epoch; return the last epoch's mean training loss."""
    trainer = make_trainer(
        paths, epochs, "val_score", "max", accelerator="cpu", limit_train_batches=4, limit_val_batches=2,
        enable_progress_bar=False, enable_model_summary=False,
    )  # fmt: skip
    trainer.fit(LoggingModel(), ckpt_path=paths.last_ckpt if resume else None)
    return float(trainer.callback_metrics["train_loss"])


def test_every_trainer_writes_the_loss_of_every_step(tmp_path: Path) -> None:
    paths = RunPaths(tmp_path / "run")
    _fit(paths, epochs=2)
    rows = read_rows(paths.step_loss_csv)
    assert [(row["step"], row["epoch"]) for row in rows] == [
        (str(s), str(1 + (s - 1) // 4)) for s in range(1, 9)
    ]
    assert all(float(row["loss"]) > 0 for row in rows)
    assert paths.step_loss_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    _fit(paths, epochs=3, resume=True)  # continues the rows
    resumed = read_rows(paths.step_loss_csv)
    assert resumed[:8] == rows and [row["step"] for row in resumed[8:]] == ["9", "10", "11", "12"]
    _fit(paths, epochs=1)  # a fresh run in the same folder starts the file afresh
    assert [row["step"] for row in read_rows(paths.step_loss_csv)] == ["1", "2", "3", "4"]


def _history(run: Path) -> dict[str, list[float]]:
    """Every logged scalar of an offline wandb run, read with wandb's own reader."""
    wandb_cli = Path(sys.executable).with_name("wandb")
    records = subprocess.run(
        [str(wandb_cli), "leet", "inspect", "--json", str(run)], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    history: dict[str, list[float]] = {}
    for record in map(json.loads, records):
        for key, value in record.get("history", {}).get("item", {}).items():
            history.setdefault(key, []).append(value)
    return history


def _tensorboard(folder: Path) -> dict[str, list[float]]:
    events = EventAccumulator(str(folder)).Reload()
    return {tag: [event.value for event in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


@pytest.mark.skipif(importlib.util.find_spec("wandb") is None, reason="wandb is not installed")
def test_wandb_logs_the_tensorboard_scalars_offline_into_the_run_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import wandb

    monkeypatch.delenv("WANDB_MODE", raising=False)  # offline must be the default
    connect = socket.socket.connect

    def local_only(self: socket.socket, address: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            raise AssertionError(f"network connection to {address}")
        connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", local_only)
    options = parse_config(TrainerOptions, ["--device", "cpu", "--wandb"], "p", "d")
    paths = RunPaths(tmp_path / "run")
    trainer = recipe_trainer(
        paths,
        options,
        2,
        "val_score",
        [],
        limit_train_batches=4,
        limit_val_batches=2,
        enable_progress_bar=False,
    )
    trainer.fit(LoggingModel())
    wandb.finish()
    (run,) = (paths.root / "wandb").glob("offline-run-*")
    history, scalars = _history(run), _tensorboard(paths.tensorboard)
    assert {"train_loss", "val_score", "epoch"} <= set(scalars)
    for tag in ("train_loss", "val_score"):
        assert history[tag] == pytest.approx(scalars[tag]) and len(history[tag]) == 2


def test_synthetic_data_is_written_once_per_settings(tmp_path: Path) -> None:
    calls = []

    def write() -> Path:
        calls.append(1)
        (tmp_path / "synthetic.json").write_text(json.dumps({"seed": 0, "counts": {"train": 2}, "kind": "x"}))
        return tmp_path / "data.yaml"

    settings = {"seed": 0, "counts": {"train": 2}}
    assert synthetic_once(tmp_path, settings, write, entry="data.yaml") == tmp_path / "data.yaml"
    assert synthetic_once(tmp_path, settings, write, entry="data.yaml") == tmp_path / "data.yaml"
    assert len(calls) == 1
    synthetic_once(tmp_path, {**settings, "seed": 1}, write)
    assert len(calls) == 2
