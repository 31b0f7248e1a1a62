"""Classifier inference: artifact loading, preprocessing, batching, colour order, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from perception.core.artifacts import ArtifactError, save_artifact
from perception.core.classifier import TRAINING_STATE_PREFIX, Classifier, Preprocessing, build_classifier

COLOURS = ["red", "green", "blue"]


class ChannelMeans(nn.Module):
    """Logits = mean of each input channel: the class is the image's dominant RGB channel."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return images.mean(dim=(2, 3)) * 10


def _bgr(rgb: tuple[int, int, int], size: tuple[int, int] = (20, 30)) -> np.ndarray:
    return np.full((*size, 3), rgb[::-1], np.uint8)


def test_predict_keeps_order_across_batches_and_reads_bgr() -> None:
    plain = Preprocessing(16, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    classifier = Classifier(ChannelMeans(), COLOURS, plain, device="cpu", batch_size=2)
    crops = [
        _bgr((250, 0, 0)),
        _bgr((0, 0, 250), (5, 70)),
        _bgr((0, 250, 0)),
        _bgr((200, 10, 10)),
        _bgr((0, 9, 99)),
    ]
    predictions = classifier.predict(crops)
    assert [p.class_name for p in predictions] == ["red", "blue", "green", "red", "blue"]
    assert [p.class_id for p in predictions] == [0, 2, 1, 0, 2]
    assert all(1 / 3 < p.score <= 1 for p in predictions)
    assert classifier.predict([]) == []


def test_preprocessing_resizes_and_normalises() -> None:
    prep = Preprocessing(8, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    batch = prep.to_tensor([np.full((3, 40, 3), 255, np.uint8), np.zeros((50, 2, 3), np.uint8)])
    assert batch.shape == (2, 3, 8, 8)
    assert torch.allclose(batch[0], torch.full((3, 8, 8), 2.0)) and torch.allclose(
        batch[1], torch.full((3, 8, 8), -2.0)
    )
    assert Preprocessing.from_metadata({"preprocessing": prep.to_metadata()}) == prep


@pytest.mark.parametrize(
    "crop", [np.zeros((0, 5, 3), np.uint8), np.zeros((5, 5), np.uint8), np.zeros((5, 5, 3), np.float32), None]
)
def test_bad_crops_are_explained(crop: object) -> None:
    classifier = Classifier(ChannelMeans(), COLOURS, Preprocessing(16), device="cpu")
    with pytest.raises(ValueError, match="crop 1"):
        classifier.predict([_bgr((1, 2, 3)), crop])


def _metadata(prep: Preprocessing) -> dict[str, object]:
    return {"architecture": "mobilenet_v3_small", "classes": COLOURS, "preprocessing": prep.to_metadata()}


def test_load_matches_the_saved_model_and_ignores_optimizer_state(tmp_path: Path) -> None:
    """Runs made before the Lightning engine kept optimizer tensors in ``latest.safetensors``."""
    torch.manual_seed(0)
    prep = Preprocessing(32)
    model = build_classifier("mobilenet_v3_small", 3, 32).eval()
    state = {f"{TRAINING_STATE_PREFIX}optimizer.0.exp_avg": torch.randn(3)}
    metadata = {"kind": "classifier", **_metadata(prep)}
    path = save_artifact(tmp_path / "latest.safetensors", {**model.state_dict(), **state}, metadata)
    loaded = Classifier.load(path, device="cpu", batch_size=3)
    crops = [np.random.default_rng(i).integers(0, 255, (20 + i, 25, 3), dtype=np.uint8) for i in range(4)]
    expected = Classifier(model, COLOURS, prep, device="cpu").probabilities(crops)
    assert torch.allclose(loaded.probabilities(crops), expected, atol=1e-6)


def test_load_rejects_other_kinds_and_incomplete_metadata(tmp_path: Path) -> None:
    weights = build_classifier("mobilenet_v3_small", 3, 32).state_dict()
    detector = save_artifact(
        tmp_path / "det.safetensors", weights, {"kind": "detector", "architecture": "yolo"}
    )
    with pytest.raises(ArtifactError, match="expected 'classifier'"):
        Classifier.load(detector, device="cpu")
    no_prep = save_artifact(
        tmp_path / "np.safetensors",
        weights,
        {"kind": "classifier", "architecture": "mobilenet_v3_small", "classes": COLOURS},
    )
    with pytest.raises(ArtifactError, match="incomplete classifier metadata"):
        Classifier.load(no_prep, device="cpu")
    wrong = save_artifact(
        tmp_path / "w.safetensors",
        weights,
        {"kind": "classifier", **_metadata(Preprocessing(32)), "architecture": "resnet18"},
    )
    with pytest.raises(ArtifactError, match="do not fit resnet18"):
        Classifier.load(wrong, device="cpu")
