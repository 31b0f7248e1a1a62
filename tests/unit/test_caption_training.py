"""A short captioner training run on synthetic captioned scenes produces every output, and resumes."""

from __future__ import annotations

import csv
import shutil

import cv2
import pytest
import torch

from perception.core.artifacts import read_metadata
from perception.core.caption_model import CaptionerConfig, CaptionModel
from perception.core.captioner import Captioner
from perception.core.domain import METADATA_KEY
from perception_training.captioning.grounding import calibrate
from perception_training.captioning.grounding import main as calibrate_main
from perception_training.captioning.module import parameter_groups
from perception_training.captioning.train import main
from perception_training.synthetic import write_caption_dataset

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

OOD_CALIBRATION = 4  # held-out scenes: the domain threshold of the smoke run's artifact
NO_OOD = ["--ood-calibration", "0"]  # runs that test something else skip the domain statistics


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_parameter_groups_cover_every_parameter_once():
    model = CaptionModel(CaptionerConfig(10, embed_dim=8, hidden_dim=8, attention_dim=8))
    groups = parameter_groups(model, lr=1e-3, encoder_lr=1e-4)
    grouped = [{id(p) for p in group["params"]} for group in groups]
    assert grouped[0] | grouped[1] == {id(p) for p in model.parameters()} and not grouped[0] & grouped[1]
    assert grouped[1] == {id(p) for p in model.encoder.parameters()}
    assert [group["lr"] for group in groups] == [1e-3, 1e-4]


def _rows(path):
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_two_epochs_write_every_output_then_resume(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["--synthetic", "20,4,4", "--synthetic-size", "96x72", "--out", str(out), "--unfreeze-after", "1"]
    args += ["--beam", "2", "--ood-calibration", str(OOD_CALIBRATION), *TINY]
    assert main([*args, "--epochs", "2"]) == 0
    assert "captioner artifact" in capsys.readouterr().out

    rows = _rows(out / "metrics.csv")
    assert [row["epoch"] for row in rows] == ["1", "2"]
    assert [float(row["encoder_trainable"]) for row in rows] == [0.0, 1.0]
    for column in ("train_loss", "val_loss", "BLEU-1", "BLEU-4", "ROUGE-L", "CIDEr", "lr", "seconds"):
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
    assert "ROUGE-L" in metadata["metrics"]["test_beam2"]
    best = int(metadata["metrics"]["val"]["epoch"])  # the best epoch's validation row
    assert metadata["metrics"]["val"]["BLEU-4"] == pytest.approx(float(rows[best - 1]["BLEU-4"]))
    assert metadata["dataset"]["seed"] == 0 and metadata["dataset"]["counts"]["train"] == 20
    assert metadata["dataset"]["size"] == [96, 72] and metadata["training"]["lr_schedule"] == "cosine"
    assert metadata["command"].startswith("perception-train caption --synthetic 20,4,4")
    image = cv2.imread(str(out / "data" / "images" / "test_000000.jpg"))
    assert image.shape == (72, 96, 3)
    captioner = Captioner.load(artifact, device="cpu")
    text, score = captioner.caption(image)
    assert isinstance(text, str) and 0.0 <= score <= 1.0
    domain = metadata[METADATA_KEY]  # calibrated on scenes drawn like its training scenes
    assert (domain["fit_samples"], domain["calibration_samples"]) == (20, OOD_CALIBRATION)
    assert domain["calibration"]["kinds"] == ["caption"] and domain["threshold"] > 0
    assert [verdict.score >= 0.0 for verdict in captioner.domain_verdicts()] == [True]

    assert main([*args, "--epochs", "3", "--resume", "--no-meteor"]) == 0
    resumed = _rows(out / "metrics.csv")
    assert [row["epoch"] for row in resumed] == ["1", "2", "3"]
    assert resumed[:2] == rows  # the first two epochs were restored, not retrained
    checkpoint = torch.load(out / "last.ckpt", weights_only=True)  # plain data: no pickled code
    assert checkpoint["epoch"] == 2  # Lightning counts from 0: the third epoch


def test_plain_caption_lines_train_with_another_optimizer(tmp_path):
    root = write_caption_dataset(
        tmp_path / "data", seed=0, counts={"train": 10, "val": 2, "test": 2}, size=(96, 72)
    )
    names = sorted(path.name for path in (root / "images").iterdir())
    first = {row["image"]: row["caption"] for row in reversed(_rows(root / "en" / "csv" / "captions.txt"))}
    plain = tmp_path / "captions.txt"
    plain.write_text("".join(f"{first[name]}\n" for name in names), encoding="utf-8")
    out = tmp_path / "run"
    options = ["--captions", str(plain), "--images", str(root / "images"), "--out", str(out)]
    options += ["--epochs", "1", "--optimizer", "nadam", "--no-meteor", *NO_OOD, *TINY]
    assert main(options) == 0
    metadata = read_metadata(out / "captioner.safetensors")
    assert metadata["training"]["optimizer"] == "nadam" and metadata["dataset"]["captions"] == str(plain)
    assert metadata["metrics"]["val"]["epoch"] == 1


def test_optimizers_are_compared_on_the_same_data(tmp_path, capsys):
    out = tmp_path / "compare"
    names = ["adam", "adamw", "nadam", "sgd"]
    args = ["--synthetic", "8,2,2", "--synthetic-size", "96x72", "--out", str(out), "--epochs", "1"]
    args += ["--compare-optimizers", ",".join(names), "--beam", "1", "--no-meteor", *NO_OOD, *TINY]
    assert main([*args, "--batch", "8"]) == 0
    assert "optimizer_comparison.png" in capsys.readouterr().out
    assert (out / "optimizer_comparison.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = _rows(out / "optimizer_comparison.csv")
    assert [(row["optimizer"], row["epoch"]) for row in rows] == [(name, "1") for name in names]
    assert all(float(row["train_loss"]) > 0 and float(row["val_loss"]) > 0 for row in rows)
    assert not (out / "adam" / "data").exists()  # the synthetic scenes were written once, to OUT/data
    first_steps = []
    for name in names:
        metadata = read_metadata(out / name / "captioner.safetensors")
        assert metadata["training"]["optimizer"] == name
        assert metadata["dataset"]["images"] == str(out / "data" / "images")
        first_steps.append(_rows(out / name / "step_loss.csv")[0]["loss"])
    assert len(set(first_steps)) == 1  # same weights and first batch: the same loss before any update
    with pytest.raises(SystemExit, match="--compare-optimizers wants names from adam,adamw,nadam,sgd"):
        main([*args, "--compare-optimizers", "adam,lamb"])


def test_calibration_picks_the_lowest_threshold_that_reaches_the_precision():
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3])
    labels = torch.tensor([1, 1, 0, 1, 1, 0, 0])
    chosen, _ = calibrate(scores, labels, min_precision=0.8)
    assert (chosen.threshold, chosen.precision, chosen.recall) == (pytest.approx(0.5), 0.8, 1.0)
    assert calibrate(scores, labels, min_precision=1.0)[0].threshold == pytest.approx(0.8)
    with pytest.raises(SystemExit, match="no threshold reaches precision"):
        calibrate(torch.tensor([0.9, 0.1]), torch.tensor([0, 1]), min_precision=0.9)


def test_grounding_calibration_writes_the_threshold_into_the_artifact(tmp_path):
    out = tmp_path / "run"
    args = ["--synthetic", "16,4,4", "--out", str(out), "--epochs", "1", "--no-meteor", *NO_OOD, *TINY]
    assert main(args) == 0
    artifact = out / "captioner.safetensors"
    words = [w for w in ("knife", "knives") if w in read_metadata(artifact)["word_map"]]
    assert words, "the tiny vocabulary lost the knife"
    command = [
        "--artifact",
        str(artifact),
        "--words",
        ",".join(words),
        "--synthetic",
        "12",
        "--size",
        "96x72",
    ]
    assert calibrate_main([*command, "--min-precision", "0"]) == 0
    (group,) = read_metadata(artifact)["grounding"]
    assert group["words"] == words and 0.0 <= group["threshold"] <= 1.0
    assert group["calibration"]["scenes"] == {"seed": 0, "split": "val", "count": 12, "size": [96, 72]}
    assert (out / "captioner_grounding.png").read_bytes()[:4] == b"\x89PNG"
    captioner = Captioner.load(artifact, device="cpu")
    assert captioner.grounding is not None and len(captioner.grounding.groups) == 1
