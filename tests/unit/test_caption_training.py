"""A short captioner training run on synthetic captioned scenes produces every output, and resumes."""

from __future__ import annotations

import csv
import shutil

import cv2
import pytest
import torch

from perception.core.artifacts import read_metadata
from perception.core.captioner import Captioner, CaptionerConfig, CaptionModel
from perception_training.captioning.cli import main
from perception_training.captioning.train import build_optimizer

TINY = [
    "--image-size",
    "64",
    "--embed-dim",
    "16",
    "--hidden-dim",
    "32",
    "--attention-dim",
    "16",
    "--batch",
    "16",
]


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """On a loaded 2-core machine two torch threads spin against each other (60x slower here)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def test_optimizer_covers_every_parameter():
    model = CaptionModel(CaptionerConfig(10, embed_dim=8, hidden_dim=8, attention_dim=8))
    optimizer = build_optimizer(model, lr=1e-3, encoder_lr=1e-4)
    grouped = [{id(p) for p in group["params"]} for group in optimizer.param_groups]
    assert grouped[0] | grouped[1] == {id(p) for p in model.parameters()}
    assert grouped[1] == {id(p) for p in model.encoder.parameters()}
    assert [group["lr"] for group in optimizer.param_groups] == [1e-3, 1e-4]


def _rows(path):
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_two_epochs_write_every_output_then_resume(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["--synthetic", "20,4,4", "--out", str(out), "--unfreeze-after", "1", "--beam", "2", *TINY]
    assert main([*args, "--epochs", "2"]) == 0
    assert "captioner artifact" in capsys.readouterr().out

    rows = _rows(out / "metrics.csv")
    assert [row["epoch"] for row in rows] == ["1", "2"]
    assert [row["encoder_trainable"] for row in rows] == ["0", "1"]
    for column in ("train_loss", "val_loss", "BLEU-1", "BLEU-4", "CIDEr"):
        assert all(float(row[column]) >= 0 for row in rows), column
    if shutil.which("java"):
        assert all(0 <= float(row["METEOR"]) <= 1 for row in rows)
    assert (out / "loss_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    artifact = out / "captioner.safetensors"
    metadata = read_metadata(artifact)
    assert metadata["kind"] == "captioner" and metadata["language"] == "en"
    assert metadata["vocab_size"] == len(metadata["word_map"]) == len(metadata["rev_word_map"])
    assert metadata["input_size"] == [64, 64] and metadata["max_len"] == 50
    assert {"val", "test_beam1", "test_beam2"} <= set(metadata["metrics"])
    assert metadata["dataset"]["seed"] == 0 and metadata["dataset"]["counts"]["train"] == 20
    assert metadata["command"].startswith("perception-train caption --synthetic 20,4,4")
    image = cv2.imread(str(out / "data" / "images" / "test_000000.jpg"))
    text, score = Captioner.load(artifact, device="cpu").caption(image)
    assert isinstance(text, str) and 0.0 <= score <= 1.0

    assert main([*args, "--epochs", "3", "--resume", "--no-meteor"]) == 0
    resumed = _rows(out / "metrics.csv")
    assert [row["epoch"] for row in resumed] == ["1", "2", "3"]
    assert resumed[:2] == rows  # the first two epochs were restored, not retrained
    assert read_metadata(out / "last.safetensors")["epoch"] == 3
