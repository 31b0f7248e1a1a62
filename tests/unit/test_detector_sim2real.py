"""``perception-train detector --sim2real`` and ``--scene-kinds``: the options reach the data set, the
artifact's record and the domain statistics' images."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from perception.core.artifacts import read_metadata
from perception_training import cli
from perception_training.ood.sources import jpeg_round_trip, training_images, training_kinds
from perception_training.synthetic import SceneWorld


@pytest.mark.slow
def test_sim2real_data_set_is_recorded_and_calibrated_on_images_drawn_the_same_way(tmp_path: Path) -> None:
    artifact = tmp_path / "s2r.safetensors"
    argv = [
        "detector",
        *("--sim2real", "camera", "lookalikes", "--seed", "4", "--scene-kinds", "mixed+knife", "glass"),
        *("--train-images", "8", "--val-images", "2", "--test-images", "2"),
        *("--imgsz", "96", "--epochs", "1", "--batch", "4", "--workers", "0", "--ood-calibration", "8"),
        *("--out", str(artifact), "--work-dir", str(tmp_path / "work"), "--docs-images", ""),
    ]
    assert cli.main(argv) == 0
    meta = read_metadata(artifact)
    assert meta["dataset"]["sim2real"] == ["lookalikes", "camera"]
    assert meta["training"]["sim2real"] == ["lookalikes", "camera"]
    assert meta["dataset"]["kinds"] == list(training_kinds(meta)) == ["mixed+knife", "glass"]
    folder = tmp_path / "work" / "dataset-seed4-lookalikes-camera-mixed_knife-glass"
    info = json.loads((folder / "synthetic.json").read_text())
    assert info["sim2real"] == ["lookalikes", "camera"] and info["seed"] == 4
    assert meta["domain"]["calibration"]["images"] == 8
    # the statistics were fitted on the training scenes without their sim-to-real dressing
    assert meta["domain"]["sim2real"] == "off (training data: lookalikes, camera)"
    redrawn = next(training_images(meta, 1))
    size = tuple(meta["dataset"]["size"])
    with_options = SceneWorld(4, ["lookalikes", "camera"]).scene(0, "train", "mixed", size, include=["knife"])
    without = SceneWorld(4).scene(0, "train", "mixed", size, include=["knife"]).image
    assert any(obj.class_name == "knife" for obj in with_options.objects)
    assert np.array_equal(redrawn, jpeg_round_trip(without))
    assert not np.array_equal(redrawn, jpeg_round_trip(with_options.image))
