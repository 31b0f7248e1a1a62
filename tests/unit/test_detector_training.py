"""Detector training: a one-epoch smoke run through the CLI writes a loadable, documented artifact."""

from __future__ import annotations

from pathlib import Path

import pytest

from perception.core.artifacts import read_metadata
from perception.core.detector import Detector
from perception_training import cli
from perception_training.detector.train import PLOTS
from perception_training.synthetic import DETECTOR_CLASSES


def test_cli_lists_detector(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as stopped:
        cli.main(["--help"])
    assert stopped.value.code == 0
    assert "detector" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["detector", "--help"])
    assert "--max-minutes" in capsys.readouterr().out


@pytest.mark.slow
def test_one_epoch_smoke_run(tmp_path: Path):
    artifact = tmp_path / "smoke.safetensors"
    argv = [
        "detector",
        *("--train-images", "16", "--val-images", "4", "--test-images", "4"),
        *("--imgsz", "160", "--epochs", "1", "--batch", "8", "--workers", "0", "--seed", "3"),
        *("--ood-calibration", "12"),
        *(
            "--out",
            str(artifact),
            "--work-dir",
            str(tmp_path / "work"),
            "--docs-images",
            str(tmp_path / "docs"),
        ),
    ]
    assert cli.main(argv) == 0

    meta = read_metadata(artifact)
    assert meta["kind"] == "detector" and meta["architecture"] == "yolo11n"
    assert meta["classes"] == list(DETECTOR_CLASSES)
    assert meta["input_size"] == 160
    assert meta["command"].startswith("perception-train detector --train-images 16")
    assert meta["dataset"]["seed"] == 3
    assert meta["dataset"]["counts"] == {"train": 16, "val": 4, "test": 4}
    assert {"map50", "map50_95", "ap50", "train_seconds"} <= meta["metrics"].keys()
    assert 0.0 <= meta["metrics"]["map50"] <= 1.0
    assert meta["ultralytics_version"] and meta["code_version"]
    assert meta["training"]["epochs"] == 1
    # the 16 training scenes at 640x480 and 1280x720, each at 160 px and 640 px; 12 held out, 3 per view
    assert [view["input_size"] for view in meta["domain"]["views"]] == [160, 640, 160, 640]
    assert meta["domain"]["fit_samples"] == 4 * 16 and meta["domain"]["calibration_samples"] == 12

    detector = Detector.load(artifact, device="cpu")
    assert detector.class_names == list(DETECTOR_CLASSES) and detector.imgsz == 160
    assert sorted(p.name for p in (tmp_path / "docs").iterdir()) == sorted(PLOTS.values())
    assert list((tmp_path / "work" / "runs").glob("*/train/weights/best.pt")), "runs belong in the work dir"
