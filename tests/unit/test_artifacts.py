"""Model artifacts: safetensors weights + metadata, with clear errors for bad files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from perception.core.artifacts import ArtifactError, load_artifact, read_metadata, save_artifact, sha256_of


def _save(path: Path, **extra: object) -> Path:
    tensors = {"layer.weight": torch.arange(6, dtype=torch.float32).reshape(2, 3)}
    return save_artifact(path, tensors, {"kind": "classifier", "architecture": "toy", **extra})


def test_round_trip_keeps_tensors_and_metadata(tmp_path: Path) -> None:
    path = _save(tmp_path / "m.safetensors", classes=["cup", "beer_glass"], metrics={"acc": 0.9})
    tensors, meta = load_artifact(path, expected_kind="classifier")
    assert torch.equal(tensors["layer.weight"], torch.arange(6, dtype=torch.float32).reshape(2, 3))
    assert meta["classes"] == ["cup", "beer_glass"]
    assert meta["metrics"] == {"acc": 0.9}
    assert meta["format_version"] == 1 and "created" in meta
    assert read_metadata(path) == meta
    assert len(sha256_of(path)) == 64


def test_missing_file_names_path_and_fix(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match=r"does not exist.*perception-train"):
        load_artifact(tmp_path / "absent.safetensors")


def test_corrupt_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.safetensors"
    path.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(ArtifactError, match="not a readable safetensors artifact"):
        load_artifact(path)


def test_truncated_file_is_reported(tmp_path: Path) -> None:
    path = _save(tmp_path / "m.safetensors")
    path.write_bytes(path.read_bytes()[:-8])
    with pytest.raises(ArtifactError):
        load_artifact(path)


def test_wrong_kind_is_reported(tmp_path: Path) -> None:
    path = _save(tmp_path / "m.safetensors")
    with pytest.raises(ArtifactError, match="expected 'detector'"):
        load_artifact(path, expected_kind="detector")


def test_foreign_safetensors_without_metadata(tmp_path: Path) -> None:
    path = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(1)}, str(path))
    with pytest.raises(ArtifactError, match="without perception metadata"):
        read_metadata(path)


def test_metadata_must_name_kind_and_architecture(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="lacks required keys"):
        save_artifact(tmp_path / "m.safetensors", {"w": torch.zeros(1)}, {"kind": "detector"})


def test_saved_artifacts_are_readable_by_other_users_under_the_usual_umask(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        path = _save(tmp_path / "m.safetensors")
    finally:
        os.umask(previous)
    assert path.stat().st_mode & 0o777 == 0o644
