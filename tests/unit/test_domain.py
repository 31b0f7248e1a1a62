"""Out-of-domain scoring in perception.core.domain (issue 15): distances, the feature tap, and the
statistics' round trip through an artifact; their fit in perception_training.ood.statistics:
shrinkage and calibration."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save
from torch import nn

from perception.core.artifacts import ArtifactError, load_artifact, save_artifact, weights_digest
from perception.core.domain import (
    METADATA_KEY,
    UNSCORED,
    DomainStatistics,
    DomainVerdict,
    FeatureTap,
    TapPoint,
    channel_statistics,
    model_tensors,
    style_and_content,
    worst,
)
from perception_training.ood.statistics import fit_statistics, shrunk_covariance

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
SCORED_ARTIFACTS = (
    "detector/yolo11n_synthetic.safetensors",
    "glass/mobilenet_v2_glass.safetensors",
    "captioner/mnv3_gru_en.safetensors",
    "captioner/mnv3_gru_ko.safetensors",
)


def test_shrinkage_follows_how_well_the_samples_pin_the_covariance_down() -> None:
    rng = np.random.default_rng(0)
    scales = np.array([4.0, 2.0, 1.0, 0.5])
    plenty = rng.normal(size=(20000, 4)) * scales
    covariance, shrinkage = shrunk_covariance(plenty)
    assert shrinkage < 0.01
    np.testing.assert_allclose(np.diag(covariance), scales**2, rtol=0.05)

    few = rng.normal(size=(10, 50))  # fewer samples than dimensions: the sample covariance is singular
    covariance, shrinkage = shrunk_covariance(few)
    assert 0.2 < shrinkage <= 1.0
    assert np.linalg.eigvalsh(covariance).min() > 0.0
    sample = np.cov(few, rowvar=False, bias=True)
    assert np.linalg.matrix_rank(sample) < 50


def test_distances_are_mahalanobis_and_verdicts_are_in_threshold_units() -> None:
    mean = np.array([1.0, -2.0])
    covariance = np.array([[4.0, 1.0], [1.0, 2.0]])
    statistics = DomainStatistics(mean, np.linalg.inv(covariance), threshold=2.0)
    points = np.array([[1.0, -2.0], [3.0, -2.0], [-3.0, 1.0]])
    expected = [float(np.sqrt((p - mean) @ np.linalg.solve(covariance, p - mean))) for p in points]
    np.testing.assert_allclose(statistics.distances(points), expected)
    verdicts = statistics.verdicts(points)
    assert [v.in_domain for v in verdicts] == [d <= 2.0 for d in expected]
    np.testing.assert_allclose([v.score for v in verdicts], np.array(expected) / 2.0)


def test_fit_calibrates_the_threshold_for_the_false_alarm_rate_and_flags_a_shifted_domain() -> None:
    rng = np.random.default_rng(1)
    training = rng.normal(size=(2000, 8))
    calibration = rng.normal(size=(1000, 8))
    statistics = fit_statistics(training, calibration, false_alarm_rate=0.05, info={"note": "kept"})
    flagged = [not v.in_domain for v in statistics.verdicts(calibration)]
    assert sum(flagged) <= 50
    fresh = rng.normal(size=(4000, 8))
    assert 0.02 < np.mean([not v.in_domain for v in statistics.verdicts(fresh)]) < 0.08
    shifted = rng.normal(loc=2.0, size=(500, 8))
    assert np.mean([not v.in_domain for v in statistics.verdicts(shifted)]) > 0.95
    assert statistics.info["note"] == "kept" and statistics.info["calibration_samples"] == 1000
    with pytest.raises(ValueError, match="false_alarm_rate"):
        fit_statistics(training, calibration, false_alarm_rate=0.0)


def test_statistics_round_trip_through_an_artifact_beside_the_weights(tmp_path) -> None:
    rng = np.random.default_rng(2)
    statistics = fit_statistics(rng.normal(size=(300, 6)), rng.normal(size=(200, 6)), 0.01, {"features": "x"})
    weights = {"layer.weight": torch.randn(3, 6), "layer.bias": torch.randn(3)}
    metadata = {"kind": "classifier", "architecture": "test", METADATA_KEY: statistics.to_metadata()}
    path = save_artifact(tmp_path / "model.safetensors", {**weights, **statistics.to_tensors()}, metadata)

    tensors, loaded_metadata = load_artifact(path)
    assert set(model_tensors(tensors)) == set(weights)
    loaded = DomainStatistics.from_artifact(tensors, loaded_metadata)
    assert loaded is not None and loaded.threshold == pytest.approx(statistics.threshold)
    probe = rng.normal(size=(5, 6))
    np.testing.assert_allclose(loaded.distances(probe), statistics.distances(probe), rtol=1e-5)
    assert loaded.info["features"] == "x" and loaded.info["score"] == "mahalanobis"
    network_digest = weights_digest(save(model_tensors(tensors)))
    assert network_digest == weights_digest(save({k: v.contiguous() for k, v in weights.items()}))

    assert DomainStatistics.from_artifact(weights, {"kind": "classifier"}) is None
    with pytest.raises(ArtifactError, match="ood-calibrate"):
        DomainStatistics.from_artifact(weights, loaded_metadata)


def test_the_tap_reads_style_and_content_of_each_forward_pass_until_taken() -> None:
    early = nn.Conv2d(3, 2, 1)
    head = nn.Linear(2, 1)
    network = nn.Sequential(early, nn.AdaptiveAvgPool2d(1), nn.Flatten(), head)
    images = torch.rand(4, 3, 5, 7)
    with torch.no_grad():
        maps = early(images)
        tap = FeatureTap(style_and_content([early], TapPoint(head)))
        network(images[:3])
        network(images[3:])
    features = tap.take()
    assert features.shape == (4, 2 * 2 + 2)
    np.testing.assert_allclose(features[:, :4], channel_statistics(maps).numpy(), rtol=1e-5)
    np.testing.assert_allclose(features[:, 4:], maps.mean(dim=(2, 3)).numpy(), rtol=1e-5)
    assert tap.take().shape == (0, 0)
    tap.remove()
    network(images)
    assert tap.take().shape == (0, 0)


def test_a_frame_judged_in_parts_takes_its_farthest_part() -> None:
    parts = [DomainVerdict(0.3, True), DomainVerdict(1.7, False), DomainVerdict(0.9, True)]
    assert worst(parts) == DomainVerdict(1.7, False)
    assert worst([]) == UNSCORED and UNSCORED.in_domain and UNSCORED.score < 0


@pytest.mark.parametrize("relative", SCORED_ARTIFACTS)
def test_committed_artifacts_carry_statistics_beside_their_network_weights(relative: str) -> None:
    tensors, metadata = load_artifact(MODELS_DIR / relative)
    statistics = DomainStatistics.from_artifact(tensors, metadata)
    assert statistics is not None, (
        f"{relative}: run `perception-train ood-calibrate --artifact models/{relative}`"
    )
    domain = metadata[METADATA_KEY]
    assert statistics.mean.shape == (domain["dim"],) and domain["false_alarm_rate"] <= 0.01
    network = model_tensors(tensors)
    assert weights_digest(save(network)) == domain["model_weights_sha256"]
    assert "ood-calibrate --artifact models/" in domain["command"]
