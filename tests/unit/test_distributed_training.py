"""Lightning's own DDP on the CPU: two processes (gloo) train a classifier, and a sign model, for
two epochs and write an artifact in the same format as a one-process run, once (rank 0 only)."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from perception.core.artifacts import read_metadata
from perception.core.classifier import Classifier
from perception_training.classification import train
from perception_training.sign import train as sign_train
from perception_training.synthetic.writers.glass import write_glass_crops

ARGS = [
    "--recipe", "glass-synthetic", "--architecture", "mobilenet_v3_small", "--image-size", "32",
    "--batch-size", "4", "--freeze-epochs", "1", "--epochs", "2", "--threads", "1", "--device", "cpu",
    "--run-name", "run",
]  # fmt: skip
DDP = ["--devices", "2", "--strategy", "ddp"]
ARTIFACT = "sign.safetensors"
SIGN_ARGS = [
    "--synthetic", "6", "--num_frames", "4", "--crop_size", "64", "--batch_size", "4", "--epochs", "2",
    "--threads", "1", "--device", "cpu", "--ood_calibration", "4",
]  # fmt: skip


def _tensors(path: Path) -> dict[str, tuple[torch.dtype, tuple[int, ...]]]:
    return {name: (tensor.dtype, tuple(tensor.shape)) for name, tensor in load_file(path).items()}


def _columns(path: Path) -> list[str]:
    with path.open() as handle:
        return next(csv.reader(handle))


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def _two_processes(command: list[str]) -> str:
    """Run ``command`` (a ``perception_training.cli`` task) with ``--devices 2 --strategy ddp``;
    return its output."""
    command = [sys.executable, "-m", "perception_training.cli", *command, *DDP]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stderr + result.stdout
    assert "Starting with 2 processes" in output and "distributed_backend=gloo" in output
    return output


@pytest.mark.slow
@pytest.mark.usefixtures("one_torch_thread")
def test_two_processes_write_what_one_process_writes(tmp_path: Path) -> None:
    data = write_glass_crops(tmp_path / "glass", seed=0, counts={"train": 24, "test": 6})
    assert train.main([*ARGS, "--data", str(data), "--out", str(tmp_path / "one")]) == 0
    _two_processes(["classify", *ARGS, "--data", str(data), "--out", str(tmp_path / "two")])
    one, two = tmp_path / "one" / "glass-synthetic" / "run", tmp_path / "two" / "glass-synthetic" / "run"
    assert sorted(p.name for p in two.iterdir()) == sorted(p.name for p in one.iterdir())
    for name in ("best.safetensors", "latest.safetensors"):
        assert _tensors(two / name) == _tensors(one / name), name
        single, double = read_metadata(one / name), read_metadata(two / name)
        assert double.keys() == single.keys() and double["metrics"].keys() == single["metrics"].keys()
        assert double["dataset"] == single["dataset"] and double["classes"] == single["classes"]
        assert "--devices 2 --strategy ddp" in double["command"]
    assert _columns(two / "metrics.csv") == _columns(one / "metrics.csv")
    # one row per epoch, not per rank
    assert [row["epoch"] for row in _rows(two / "metrics.csv")] == ["1", "2"]
    assert Classifier.load(two / "best.safetensors", device="cpu").classes == [
        "beer_glass",
        "cup",
        "soju_glass",
    ]


@pytest.mark.slow
@pytest.mark.usefixtures("one_torch_thread")
def test_two_processes_train_a_sign_model_as_one_does(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"

    def into(out: Path) -> list[str]:
        return [*SIGN_ARGS, "--output_dir", str(out), "--artifact", str(out / ARTIFACT)]

    assert sign_train.main(into(one)) == 0
    output = _two_processes(["sign", *into(two)])
    assert "already holds this synthetic data" in output  # the second process reads what the first wrote
    run, single_run = two / "x3d_xs", one / "x3d_xs"
    assert sorted(p.name for p in run.iterdir()) == sorted(p.name for p in single_run.iterdir())
    assert _tensors(two / ARTIFACT) == _tensors(one / ARTIFACT)
    single, double = read_metadata(one / ARTIFACT), read_metadata(two / ARTIFACT)
    assert double.keys() == single.keys() and double["metrics"].keys() == single["metrics"].keys()
    assert double["classes"] == single["classes"] and double["domain"].keys() == single["domain"].keys()
    assert "--devices 2 --strategy ddp" in double["command"]
    assert _columns(run / "metrics.csv") == _columns(single_run / "metrics.csv")
    assert [row["epoch"] for row in _rows(run / "metrics.csv")] == ["0", "1"]
    steps = [int(row["step"]) for row in _rows(run / "step_loss.csv")]
    assert steps == list(range(1, len(steps) + 1))  # rank 0's steps, each once
    assert len(steps) < len(_rows(single_run / "step_loss.csv"))  # each process trains on its share
