"""Fitting the domain statistics an artifact carries (:class:`perception.core.domain.DomainStatistics`):
the Ledoit-Wolf shrunk covariance of training features and a threshold calibrated on held-out
in-domain features for a stated false-alarm rate."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from perception.core.domain import DomainStatistics


def shrunk_covariance(features: np.ndarray) -> tuple[np.ndarray, float]:
    """Ledoit-Wolf covariance of ``features`` (N x D) and its shrinkage towards a scaled identity.

    With a few hundred samples of a few hundred dimensions the sample covariance is singular;
    Ledoit and Wolf's shrinkage (2004) is the analytic choice that minimises the expected error.
    """
    x = np.asarray(features, np.float64)
    x = x - x.mean(axis=0)
    samples, dim = x.shape
    covariance = x.T @ x / samples
    target = np.trace(covariance) / dim
    scatter = np.sum((x**2).T @ (x**2)) / samples - np.sum(covariance**2)
    distance = np.sum(covariance**2) - 2.0 * target * np.trace(covariance) + dim * target**2
    shrinkage = float(min(1.0, max(0.0, scatter / samples / distance))) if distance > 0 else 1.0
    shrunk = (1.0 - shrinkage) * covariance + shrinkage * target * np.eye(dim)
    return shrunk, shrinkage


def fit_statistics(
    training: np.ndarray,
    calibration: np.ndarray,
    false_alarm_rate: float,
    info: Mapping[str, Any] | None = None,
) -> DomainStatistics:
    """Statistics of ``training`` features with the threshold that flags ``false_alarm_rate`` of
    the held-out in-domain ``calibration`` features (its (1 - rate) quantile of distances)."""
    if not 0.0 < false_alarm_rate < 1.0:
        raise ValueError(f"false_alarm_rate must be in (0, 1), got {false_alarm_rate}")
    covariance, shrinkage = shrunk_covariance(training)
    fitted = DomainStatistics(np.asarray(training, np.float64).mean(axis=0), np.linalg.inv(covariance), 1.0)
    distances = fitted.distances(calibration)
    threshold = float(np.quantile(distances, 1.0 - false_alarm_rate, method="higher"))
    details = {
        **(info or {}),
        "shrinkage": round(shrinkage, 6),
        "fit_samples": len(training),
        "calibration_samples": len(calibration),
        "false_alarm_rate": false_alarm_rate,
    }
    return DomainStatistics(fitted.mean, fitted.precision, threshold, details)
