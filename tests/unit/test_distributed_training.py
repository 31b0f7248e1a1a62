"""Lightning's own DDP on the CPU: two processes (gloo) train a classifier for two epochs and
write an artifact in the same format as a one-process run, once (rank 0 only)."""

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
from perception_training.synthetic.writers.glass import write_glass_crops

ARGS = [
    "--recipe", "glass-synthetic", "--architecture", "mobilenet_v3_small", "--image-size", "32",
    "--batch-size", "4", "--freeze-epochs", "1", "--epochs", "2", "--threads", "1", "--device", "cpu",
    "--run-name", "run",
]  # fmt: skip


def _tensors(path: Path) -> dict[str, tuple[torch.dtype, tuple[int, ...]]]:
    return {name: (tensor.dtype, tuple(tensor.shape)) for name, tensor in load_file(path).items()}


def _columns(path: Path) -> list[str]:
    with path.open() as handle:
        return next(csv.reader(handle))


@pytest.mark.slow
@pytest.mark.usefixtures("one_torch_thread")
def test_two_processes_write_what_one_process_writes(tmp_path: Path) -> None:
    data = write_glass_crops(tmp_path / "glass", seed=0, counts={"train": 24, "test": 6})
    assert train.main([*ARGS, "--data", str(data), "--out", str(tmp_path / "one")]) == 0
    command = [sys.executable, "-m", "perception_training.cli", "classify", *ARGS, "--data", str(data)]
    command += ["--out", str(tmp_path / "two"), "--devices", "2", "--strategy", "ddp"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Starting with 2 processes" in result.stderr + result.stdout
    assert "distributed_backend=gloo" in result.stderr + result.stdout
    one, two = tmp_path / "one" / "glass-synthetic" / "run", tmp_path / "two" / "glass-synthetic" / "run"
    assert sorted(p.name for p in two.iterdir()) == sorted(p.name for p in one.iterdir())
    for name in ("best.safetensors", "latest.safetensors"):
        assert _tensors(two / name) == _tensors(one / name), name
        single, double = read_metadata(one / name), read_metadata(two / name)
        assert double.keys() == single.keys() and double["metrics"].keys() == single["metrics"].keys()
        assert double["dataset"] == single["dataset"] and double["classes"] == single["classes"]
        assert "--devices 2 --strategy ddp" in double["command"]
    assert _columns(two / "metrics.csv") == _columns(one / "metrics.csv")
    with (two / "metrics.csv").open() as handle:
        assert [row["epoch"] for row in csv.DictReader(handle)] == [
            "1",
            "2",
        ]  # one row per epoch, not per rank
    assert Classifier.load(two / "best.safetensors", device="cpu").classes == [
        "beer_glass",
        "cup",
        "soju_glass",
    ]
