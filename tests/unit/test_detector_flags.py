"""``perception-train detector``'s flags come from TrainConfig: every spelling, default and check the
hand-written parser had stays, and the artifact's "training" metadata keeps its layout."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest

from perception.core.artifacts import read_metadata
from perception_training.detector.train import (
    DEFAULT_DOCS_IMAGES,
    DEFAULT_OUT,
    TrainConfig,
    parse_args,
    stored_settings,
)
from perception_training.synthetic.sim2real import SIM2REAL_OPTIONS

SHIPPED = Path(__file__).resolve().parents[2] / "models" / "detector" / "yolo11n_synthetic.safetensors"


def test_defaults_are_the_committed_demo_artifacts() -> None:
    assert asdict(parse_args([], "prog")) == {
        "out": DEFAULT_OUT,
        "architecture": "yolo11n",
        "init_from": None,
        "data": None,
        "seed": 0,
        "sim2real": (),
        "scene_kinds": ("mixed", "glass"),
        "train_images": 400,
        "val_images": 60,
        "test_images": 100,
        "scene_size": (640, 480),
        "imgsz": 320,
        "epochs": 40,
        "max_minutes": None,
        "batch": 16,
        "workers": 2,
        "device": "cpu",
        "lr0": 0.002,
        "optimizer": "AdamW",
        "mosaic": 1.0,
        "close_mosaic": 5,
        "val_each_epoch": True,
        "work_dir": None,
        "docs_images": DEFAULT_DOCS_IMAGES,
        "ood_calibration": 400,
    }
    assert parse_args([], "prog") == TrainConfig()


def test_the_training_flags_keep_their_spellings() -> None:
    argv = "--architecture yolo11s --epochs 3 --workers 0 --device cuda:0 --optimizer SGD --mosaic 0 "
    argv += "--close-mosaic 2 --ood-calibration 0 --scene-kinds plain --sim2real camera photos"
    assert parse_args(argv.split(), "prog") == TrainConfig(
        architecture="yolo11s",
        epochs=3,
        workers=0,
        device="cuda:0",
        optimizer="SGD",
        mosaic=0.0,
        close_mosaic=2,
        ood_calibration=0,
        scene_kinds=("plain",),
        sim2real=("photos", "camera"),
    )


def test_the_recorded_fine_tuning_command_parses_as_before() -> None:
    argv = [
        *("--sim2real", "--scene-kinds", "mixed", "glass", "mixed+knife", "glass+knife"),
        *("--init-from", "models/detector/yolo11n_synthetic.safetensors"),
        *("--train-images", "1200", "--val-images", "60", "--test-images", "100", "--imgsz", "416"),
        *("--max-minutes", "40", "--batch", "8", "--lr0", "0.001", "--seed", "8", "--out", "x.safetensors"),
        *("--work-dir", "w", "--docs-images", ""),
    ]
    config = parse_args(argv, "prog")
    assert config == TrainConfig(
        out=Path("x.safetensors"),
        init_from=Path("models/detector/yolo11n_synthetic.safetensors"),
        seed=8,
        sim2real=tuple(SIM2REAL_OPTIONS),
        scene_kinds=("mixed", "glass", "mixed+knife", "glass+knife"),
        train_images=1200,
        imgsz=416,
        max_minutes=40.0,
        batch=8,
        lr0=0.001,
        work_dir=Path("w"),
        docs_images=None,  # '' = write no plots
    )
    assert config.counts == {"train": 1200, "val": 60, "test": 100}


def test_aliases_switches_and_their_checks(capsys: pytest.CaptureFixture[str]) -> None:
    assert parse_args(["--weights", "a.pt"], "prog").init_from == Path("a.pt")
    assert parse_args(["--init_from", "b.pt"], "prog").init_from == Path("b.pt")
    assert parse_args(["--no-val-each-epoch"], "prog").val_each_epoch is False
    assert parse_args(["--data", "my.yaml"], "prog").data == Path("my.yaml")
    assert parse_args(["--docs-images", "d"], "prog").docs_images == Path("d")
    assert parse_args(["--sim2real"], "prog").sim2real == tuple(SIM2REAL_OPTIONS)
    assert parse_args(["--sim2real", "camera"], "prog").sim2real == ("camera",)
    with pytest.raises(SystemExit):
        parse_args(["--data", "my.json", "--sim2real"], "prog")
    assert "it does nothing with --data" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["--scene-kinds", "mixed", "bogus"], "prog")
    assert "--scene-kinds: scene kind 'bogus'" in capsys.readouterr().err


def test_stored_settings_keep_the_committed_artifacts_layout() -> None:
    if not SHIPPED.is_file():
        pytest.skip(f"{SHIPPED} is not in this checkout")
    stored = read_metadata(SHIPPED)["training"]
    assert stored_settings(TrainConfig()).keys() == stored.keys()
    assert stored_settings(parse_args(["--train-images", "1200"], "prog"))["counts"] == {
        "train": 1200,
        "val": 60,
        "test": 100,
    }
