"""Model integrity at load: flipped weight bytes, manifest mismatches, digest-less artifacts,
user detector files, and model paths that are not files (docs/reliability.md)."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import save

from perception.core.artifacts import (
    DIGEST_KEY,
    ArtifactError,
    load_artifact,
    read_metadata,
    save_artifact,
    weights_digest,
)
from perception.core.captioner import Captioner
from perception.core.classifier import Classifier
from perception.core.detector import Detector, build_model
from perception.nodes.framework.model_path import resolve_model_path
from perception_training.detector.artifact import save_detector
from perception_training.detector.export import export_detector
from perception_training.manifest import add_digest, build_manifest, render

MODELS = Path(__file__).resolve().parents[2] / "models"
LOADERS: dict[str, tuple[Callable[..., object], str]] = {
    "detector": (Detector.load, "detector/yolo11n_synthetic.safetensors"),
    "glass": (Classifier.load, "glass/mobilenet_v2_glass.safetensors"),
    "caption": (Captioner.load, "captioner/mnv3_gru_en.safetensors"),
}
TOY = {"layer.weight": torch.arange(6, dtype=torch.float32).reshape(2, 3)}
TOY_META = {"kind": "classifier", "architecture": "toy"}


def flip_tensor_bytes(path: Path) -> None:
    """Invert the file's last byte: always tensor data (the header comes first), so it stays intact."""
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(data)


def write_manifest(models_dir: Path) -> None:
    (models_dir / "manifest.json").write_text(render(build_manifest(models_dir)))


def test_saved_artifact_carries_the_digest_of_its_tensor_data(tmp_path: Path) -> None:
    path = save_artifact(tmp_path / "m.safetensors", TOY, TOY_META)
    assert read_metadata(path)[DIGEST_KEY] == weights_digest(path.read_bytes())
    assert weights_digest(path.read_bytes()) == weights_digest(save(TOY))


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_flipped_weight_bytes_fail_each_loader_naming_both_digests(tmp_path: Path, name: str) -> None:
    loader, model = LOADERS[name]
    path = tmp_path / Path(model).name
    shutil.copyfile(MODELS / model, path)
    expected = read_metadata(path)[DIGEST_KEY]
    flip_tensor_bytes(path)
    actual = weights_digest(path.read_bytes())
    with pytest.raises(ArtifactError) as raised:
        loader(path, device="cpu")
    message = str(raised.value)
    assert str(path) in message and "weights are corrupt" in message
    assert f"expected {DIGEST_KEY} {expected}" in message and f"actual {actual}" in message
    assert "regenerate it with `perception-train" in message


def test_a_file_the_manifest_lists_must_match_its_sha256(tmp_path: Path) -> None:
    path = save_artifact(tmp_path / "glass" / "m.safetensors", TOY, TOY_META)
    write_manifest(tmp_path)
    listed = json.loads((tmp_path / "manifest.json").read_text())["artifacts"][0]["sha256"]
    load_artifact(path)

    save_artifact(path, {"layer.weight": torch.zeros(2, 3)}, TOY_META)  # replaced, intact
    with pytest.raises(ArtifactError, match=rf"expected sha256 {listed}, actual [0-9a-f]{{64}}") as raised:
        load_artifact(path)
    assert "manifest.json" in str(raised.value) and "its own weights_sha256 matches" in str(raised.value)
    assert "python -m perception_training.manifest" in str(raised.value)

    flip_tensor_bytes(path)
    with pytest.raises(ArtifactError, match="its weights are corrupt too: expected weights_sha256"):
        load_artifact(path)


def test_a_digest_less_artifact_loads_with_a_warning_until_a_digest_is_added(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "old.safetensors"
    old_meta = {**TOY_META, "format_version": 1, "created": "2026-01-01T00:00:00+00:00"}
    path.write_bytes(save(TOY, metadata={"perception": json.dumps(old_meta)}))
    with caplog.at_level(logging.WARNING, logger="perception.core.artifacts"):
        tensors, _ = load_artifact(path)
    assert torch.equal(tensors["layer.weight"], TOY["layer.weight"])
    assert "loaded unverified" in caplog.text and "--add-digests" in caplog.text

    assert add_digest(path) and not add_digest(path)
    caplog.clear()
    tensors, meta = load_artifact(path)
    assert torch.equal(tensors["layer.weight"], TOY["layer.weight"]) and not caplog.text
    assert meta == {**old_meta, DIGEST_KEY: weights_digest(save(TOY))}


@pytest.fixture(scope="module")
def user_detector_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A user's ultralytics .pt and .onnx, exported from a small untrained artifact."""
    out = tmp_path_factory.mktemp("user_detector")
    artifact = save_detector(
        out / "untrained.safetensors",
        build_model("yolo11n", ["cup", "knife"]),
        {"architecture": "yolo11n", "input_size": 160},
    )
    return export_detector(artifact, out)


@pytest.mark.parametrize("fmt", ["pt", "onnx"])
def test_a_user_detector_file_loads_with_an_unverified_note(
    user_detector_files: dict[str, Path], fmt: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="perception.core"):
        Detector.load(user_detector_files[fmt], device="cpu")
    assert f"untrained.{fmt} is a user model without a weights digest: loaded unverified" in caplog.text


def test_model_paths_that_are_not_files_say_what_they_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERCEPTION_MODELS_DIR", str(tmp_path))
    folder = tmp_path / "detector"
    folder.mkdir()
    with pytest.raises(FileNotFoundError, match=r"detector is a directory, not a model file \("):
        resolve_model_path("detector")
    model = save_artifact(folder / "m.safetensors", TOY, TOY_META)
    (folder / "notes.txt").write_text("not a model")
    hint = rf"detector is a directory, not a model file; did you mean {model}\?"
    with pytest.raises(FileNotFoundError, match=hint):
        resolve_model_path("detector")
    with pytest.raises(ArtifactError, match=hint):
        load_artifact(folder)
    with pytest.raises(FileNotFoundError, match="/dev/null is a character device, not a model file"):
        resolve_model_path("/dev/null")
    for loader, _ in LOADERS.values():
        with pytest.raises(RuntimeError, match="/dev/null is a character device, not a model file"):
            loader(Path("/dev/null"), device="cpu")
