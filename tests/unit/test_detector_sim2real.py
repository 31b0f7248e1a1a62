"""``perception-train detector --sim2real``: the options reach the data set and the artifact's record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from perception.core.artifacts import read_metadata
from perception_training import cli


@pytest.mark.slow
def test_sim2real_data_set_is_recorded_and_gets_no_stale_domain_statistics(tmp_path: Path) -> None:
    artifact = tmp_path / "s2r.safetensors"
    argv = [
        "detector",
        *("--sim2real", "camera", "lookalikes", "--seed", "4"),
        *("--train-images", "8", "--val-images", "2", "--test-images", "2"),
        *("--imgsz", "96", "--epochs", "1", "--batch", "4", "--workers", "0", "--ood-calibration", "8"),
        *("--out", str(artifact), "--work-dir", str(tmp_path / "work"), "--docs-images", ""),
    ]
    assert cli.main(argv) == 0
    meta = read_metadata(artifact)
    assert meta["dataset"]["sim2real"] == ["lookalikes", "camera"]
    assert meta["training"]["sim2real"] == ["lookalikes", "camera"]
    info = json.loads((tmp_path / "work" / "dataset-seed4-lookalikes-camera" / "synthetic.json").read_text())
    assert info["sim2real"] == ["lookalikes", "camera"] and info["seed"] == 4
    # the calibration would redraw the world without the options, so it is not run
    assert "domain" not in meta
