"""Tiny randomly initialised artifacts with domain statistics, built in seconds, for the tests of
the ONNX exports (their outputs and scores against torch's); the statistics are random but
positive definite and not diagonal, so the in-graph Mahalanobis distance is really exercised."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from perception.core.artifacts import save_artifact
from perception.core.caption_model import CaptionerConfig, CaptionModel
from perception.core.captioner import domain_points as captioner_points
from perception.core.classifier import build_classifier
from perception.core.classifier import domain_points as classifier_points
from perception.core.classifier_io import Preprocessing
from perception.core.detector import build_model
from perception.core.detector import domain_points as detector_points
from perception.core.domain import DomainStatistics, FeatureTap, TapPoint
from perception.core.sign import domain_points as sign_points
from perception.core.text.vocabulary import Vocabulary
from perception.core.video_models import VideoModelSpec, build_video_model

GLASS_TYPES = ["cup", "beer_glass", "wine_glass"]
SIGN_WORDS = ["_idle_", "왼쪽", "오른쪽"]
SIGN_SPEC = VideoModelSpec("x3d_xs", num_frames=4, crop_size=32, sampling_rate=12)
CAPTION_WORDS = [["a", "red", "cup"], ["a", "knife", "on", "a", "table"], ["two", "knives"]]


def random_statistics(dim: int, seed: int, threshold: float) -> DomainStatistics:
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(dim, dim)) / np.sqrt(dim)
    return DomainStatistics(rng.normal(size=dim) * 0.1, mixing @ mixing.T + np.eye(dim), threshold)


def _dim(network: torch.nn.Module, points: list[TapPoint], example: torch.Tensor) -> int:
    tap = FeatureTap(points)
    with torch.inference_mode():
        network.eval()(example)
    dim = tap.take().shape[1]
    tap.remove()
    return dim


def _save(path: Path, network: torch.nn.Module, metadata: dict, statistics: DomainStatistics) -> Path:
    tensors = {**network.state_dict(), **statistics.to_tensors()}
    return save_artifact(path, tensors, {**metadata, "domain": statistics.to_metadata()})


def tiny_detector(path: Path) -> Path:
    """yolo11n for two classes at 64 px; its domain threshold is the distance scale of random frames."""
    model = build_model("yolo11n", ["cup", "knife"])
    dim = _dim(model, detector_points(model.model), torch.rand(1, 3, 64, 64))
    metadata = {
        "kind": "detector",
        "classes": ["cup", "knife"],
        "model_yaml": dict(model.yaml),
        "architecture": "yolo11n",
        "input_size": 64,
    }
    return _save(path, model, metadata, random_statistics(dim, 1, threshold=40.0))


def tiny_classifier(path: Path) -> Path:
    """mobilenet_v2 for three glass types at 32 px."""
    model = build_classifier("mobilenet_v2", len(GLASS_TYPES), 32)
    dim = _dim(model, classifier_points(model), torch.rand(1, 3, 32, 32))
    metadata = {
        "kind": "classifier",
        "architecture": "mobilenet_v2",
        "classes": GLASS_TYPES,
        "preprocessing": Preprocessing(32).to_metadata(),
    }
    return _save(path, model, metadata, random_statistics(dim, 2, threshold=30.0))


def tiny_sign(path: Path) -> Path:
    """x3d_xs for three words on 4 frames of 32 px."""
    from perception_training.sign.artifact import sign_metadata  # tests that skip without it import us

    model = build_video_model("x3d_xs", len(SIGN_WORDS), dropout=0.0)
    dim = _dim(model, sign_points(model), torch.rand(1, 3, 4, 32, 32))
    metadata = sign_metadata(SIGN_SPEC, SIGN_WORDS, ["idle", "left", "right"], clip_duration=0.6)
    return _save(path, model, metadata, random_statistics(dim, 3, threshold=50.0))


def tiny_captioner(path: Path) -> Path:
    """A small-decoder captioner at 64 px (a 2x2 grid) whose knife words are grounded; its BatchNorm
    statistics are those of random images, so its features (and captions) vary with the image."""
    from perception_training.captioning.artifact import captioner_metadata  # as in tiny_sign

    torch.manual_seed(4)
    vocabulary = Vocabulary.build(CAPTION_WORDS, min_freq=1)
    model = CaptionModel(CaptionerConfig(len(vocabulary), embed_dim=16, hidden_dim=32, attention_dim=16))
    _calibrate_batchnorm(model.encoder, torch.randn(8, 3, 64, 64))
    dim = _dim(model.encoder, captioner_points(model), torch.rand(1, 3, 64, 64))
    metadata = {
        **captioner_metadata(model.config, vocabulary, "english", "en", image_size=64, max_len=12),
        "grounding": [{"words": ["knife", "knives"], "threshold": 0.5}],
    }
    return _save(path, model, metadata, random_statistics(dim, 4, threshold=60.0))


def _calibrate_batchnorm(network: torch.nn.Module, images: torch.Tensor) -> None:
    """Running BatchNorm statistics of ``images`` (exact averages): a random MobileNetV3 with the
    default ones gives every image the same features, all near 0."""
    for layer in network.modules():
        if isinstance(layer, torch.nn.BatchNorm2d):
            layer.momentum = None
    with torch.no_grad():
        network.train()(images)
