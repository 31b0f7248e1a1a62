"""The committed models/manifest.json matches the committed artifacts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from perception.core.artifacts import DIGEST_KEY, ArtifactError, read_metadata, save_artifact
from perception_training.manifest import DEFAULT_MODELS_DIR, build_manifest, render


def test_committed_manifest_is_up_to_date() -> None:
    committed = json.loads((DEFAULT_MODELS_DIR / "manifest.json").read_text())
    fresh = build_manifest(DEFAULT_MODELS_DIR)
    stale = "run `python -m perception_training.manifest` after changing models/"
    assert [a["file"] for a in committed["artifacts"]] == [a["file"] for a in fresh["artifacts"]], stale
    assert [a["sha256"] for a in committed["artifacts"]] == [a["sha256"] for a in fresh["artifacts"]], stale


def test_manifest_entry_comes_from_artifact_metadata(tmp_path: Path) -> None:
    save_artifact(
        tmp_path / "glass" / "m.safetensors",
        {"w": torch.ones(2)},
        {"kind": "classifier", "architecture": "mobilenet_v2", "classes": ["cup"], "command": "x"},
    )
    (entry,) = build_manifest(tmp_path)["artifacts"]
    assert entry["file"] == "glass/m.safetensors"
    assert entry["classes"] == ["cup"] and entry["regenerate"] == "x"
    assert json.loads(render({"artifacts": [entry]}))["artifacts"][0]["sha256"] == entry["sha256"]


def test_committed_artifacts_carry_their_weights_digest() -> None:
    committed = json.loads((DEFAULT_MODELS_DIR / "manifest.json").read_text())["artifacts"]
    for entry in committed:
        digest = read_metadata(DEFAULT_MODELS_DIR / entry["file"]).get(DIGEST_KEY)
        assert digest and entry["weights_sha256"] == digest, (
            f"{entry['file']} lacks {DIGEST_KEY}: run `python -m perception_training.manifest --add-digests`"
        )


def test_manifest_refuses_an_artifact_whose_weights_changed(tmp_path: Path) -> None:
    path = save_artifact(
        tmp_path / "m.safetensors", {"w": torch.ones(4)}, {"kind": "classifier", "architecture": "x"}
    )
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="weights are corrupt"):
        build_manifest(tmp_path)
