"""perception-sign infer and SignRecognizer on every model file a run writes: artifact, Lightning
checkpoint, TorchScript export and its INT8 version."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from perception.core.artifacts import ArtifactError, save_artifact
from perception.core.sign import SignRecognizer, load_sign_model
from perception.core.video_models import frames_to_video
from perception_training.sign.data import read_frames
from perception_training.sign.export import main as export_main
from perception_training.sign.infer import clip_starts, main
from perception_training.sign.train import main as train_main

RECORD_KEYS = {
    "video_path",
    "start_time",
    "end_time",
    "predicted_class_idx",
    "predicted_class_name",
    "confidence",
    "clip_duration",
}


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory, one_torch_thread: None) -> dict[str, Path]:
    """A one-epoch x3d_xs run with both exports; the model files by format, and a val video."""
    out = tmp_path_factory.mktemp("sign_infer")
    artifact = out / "x3d_xs_sign.safetensors"
    argv = [
        "--synthetic",
        "6",
        "--epochs",
        "1",
        "--batch_size",
        "4",
        "--num_frames",
        "4",
        "--crop_size",
        "64",
    ]
    argv += [
        "--output_dir",
        str(out),
        "--artifact",
        str(artifact),
        "--export_mobile_model",
        "--quantize_model",
    ]
    assert train_main(argv) == 0
    return {
        "artifact": artifact,
        "ckpt": out / "x3d_xs" / "best.ckpt",
        "torchscript": out / "x3d_xs_sign_mobile.ptl",
        "int8": out / "x3d_xs_sign_int8.pt",
        "video": sorted((out / "x3d_xs" / "data" / "val" / "video").glob("*.mp4"))[0],
    }


def _infer(models: dict[str, Path], kind: str, tmp_path: Path, *extra: str) -> dict | list:
    output = tmp_path / f"{kind}.json"
    argv = ["infer", "--checkpoint", str(models[kind]), "--video_path", str(models["video"])]
    assert main([*argv, "--clip_duration", "2.0", "--output_path", str(output), *extra]) == 0
    return json.loads(output.read_text(encoding="utf-8"))


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["artifact", "ckpt", "torchscript", "int8"])
def test_single_clip_json_on_every_model_file(models: dict[str, Path], kind: str, tmp_path: Path) -> None:
    record = _infer(models, kind, tmp_path, "--return_probabilities")
    assert set(record) >= RECORD_KEYS
    assert (record["start_time"], record["end_time"], record["clip_duration"]) == (0.0, 2.0, 2.0)
    assert record["predicted_class_name"] == list(record["probabilities"])[record["predicted_class_idx"]]
    assert sum(record["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)


@pytest.mark.slow
def test_sliding_clips_agree_across_formats(models: dict[str, Path], tmp_path: Path) -> None:
    runs = {
        kind: _infer(models, kind, tmp_path, "--multiple_clips", "--stride", "1.0", "--return_probabilities")
        for kind in ("artifact", "ckpt", "torchscript", "int8")
    }
    reference = runs["artifact"]
    assert len(reference) >= 2 and [r["start_time"] for r in reference[:2]] == [0.0, 1.0]
    assert all(set(record) >= RECORD_KEYS for record in reference)

    def probabilities(kind: str) -> np.ndarray:
        return np.array([list(record["probabilities"].values()) for record in runs[kind]])

    for kind in ("ckpt", "torchscript"):  # the same fp32 weights: equal up to float noise
        np.testing.assert_allclose(probabilities(kind), probabilities("artifact"), atol=1e-4)
    int8_argmax = probabilities("int8").argmax(1) == probabilities("artifact").argmax(1)
    assert int8_argmax.mean() >= 0.75
    np.testing.assert_allclose(probabilities("int8"), probabilities("artifact"), atol=0.05)


@pytest.mark.slow
def test_recognizer_takes_bgr_frames_like_the_node_sends(models: dict[str, Path]) -> None:
    recognizer = SignRecognizer.load(models["artifact"], device="cpu")
    rgb, _ = read_frames(models["video"], 0.0, 1.5)
    from_bgr = recognizer.predict(list(rgb[..., ::-1]))
    np.testing.assert_allclose(from_bgr, recognizer.predict_video(frames_to_video(rgb)), atol=1e-6)
    top = recognizer.top_k(from_bgr, k=2)
    assert top[0].probability >= top[1].probability and top[0].gloss in recognizer.glosses


@pytest.mark.slow
def test_torchscript_exports_carry_the_artifact_metadata(models: dict[str, Path]) -> None:
    _, artifact_metadata = load_sign_model(models["artifact"])
    for kind, export in (("torchscript", "torchscript"), ("int8", "torchscript-int8")):
        _, metadata = load_sign_model(models[kind])
        assert metadata["export"] == export
        assert metadata["classes"] == artifact_metadata["classes"]


@pytest.mark.slow
def test_export_command_rewrites_both_exports(models: dict[str, Path], tmp_path: Path) -> None:
    artifact = tmp_path / models["artifact"].name
    shutil.copy(models["artifact"], artifact)
    assert export_main(["--artifact", str(artifact)]) == 0
    for kind in ("torchscript", "int8"):
        written = tmp_path / models[kind].name
        assert load_sign_model(written)[1]["classes"] == load_sign_model(models[kind])[1]["classes"]
        assert written.stat().st_size > 1e6


def test_wrong_files_are_refused_with_the_reason(tmp_path: Path) -> None:
    plain = tmp_path / "plain.pt"
    torch.jit.save(torch.jit.script(torch.nn.Identity()), str(plain))
    with pytest.raises(ArtifactError, match="without sign metadata"):
        load_sign_model(plain)
    other = save_artifact(
        tmp_path / "glass.safetensors", {"w": torch.zeros(1)}, {"kind": "classifier", "architecture": "x"}
    )
    with pytest.raises(ArtifactError, match="expected 'sign'"):
        load_sign_model(other)


def test_clip_starts_cover_the_video_and_keep_one_short_clip() -> None:
    assert clip_starts(5.0, 2.0, 1.0) == [0.0, 1.0, 2.0, 3.0]
    assert clip_starts(1.0, 2.0, 1.0) == [0.0]
    with pytest.raises(ValueError, match="stride"):
        clip_starts(5.0, 2.0, 0.0)
