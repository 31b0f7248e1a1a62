"""Out-of-domain scoring: how unlike its training data a frame looks to a model.

Every shipped model was trained on the synthetic world only; on a real photo it is confidently
wrong (a knife in most kitchens), and a hazard alert built on that reaches a guardian. So each
artifact carries what its model saw in training: the mean and the shrunk (Ledoit-Wolf)
covariance of its domain features over the training set (the channel statistics of its first
blocks, i.e. the images' style, and its pooled penultimate features, their content), and a
distance threshold calibrated on held-out in-domain images for a stated false-alarm rate. At
run time a :class:`FeatureTap` keeps those features from each forward pass and
:class:`DomainStatistics` turns them into a Mahalanobis distance, published in units of the
threshold (> 1: out of domain). docs/ood.md has the measurements behind both choices (these
features over the penultimate ones alone, Mahalanobis over an energy score). Fitting the
statistics is training's business (``perception_training.ood.statistics``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from perception.core.artifacts import ArtifactError, load_artifact
from perception.core.domain_verdict import NOT_SCORED, UNSCORED, DomainVerdict, verdict_of, worst

__all__ = [  # the verdict types are re-exported: they lived here before domain_verdict held them
    "EARLY_BLOCKS",
    "METADATA_KEY",
    "NOT_SCORED",
    "SCORE_NAME",
    "TENSOR_PREFIX",
    "UNSCORED",
    "DomainMonitor",
    "DomainStatistics",
    "DomainVerdict",
    "FeatureTap",
    "Pool",
    "TapPoint",
    "average_grid",
    "average_maps",
    "channel_statistics",
    "last_linear",
    "load_statistics",
    "model_tensors",
    "style_and_content",
    "verdict_of",
    "worst",
]

TENSOR_PREFIX = "domain."
METADATA_KEY = "domain"
SCORE_NAME = "mahalanobis"
EARLY_BLOCKS = 5  # backbone blocks after the stem whose channel statistics describe an image's style

Pool = Callable[[Any], torch.Tensor]


@dataclass(frozen=True)
class DomainStatistics:
    """Mean and precision (inverse shrunk covariance) of training features, plus the threshold."""

    mean: np.ndarray
    precision: np.ndarray
    threshold: float
    info: Mapping[str, Any] = field(default_factory=dict)

    def distances(self, features: np.ndarray) -> np.ndarray:
        """Mahalanobis distance of each row of ``features`` (N x D) from the training mean."""
        centred = np.asarray(features, np.float64) - self.mean
        squared = ((centred @ self.precision) * centred).sum(axis=1)  # BLAS: 10x einsum's speed
        return np.sqrt(np.maximum(squared, 0.0))

    def verdicts(self, features: np.ndarray) -> list[DomainVerdict]:
        """One verdict per row: distance / threshold, in domain while it is at most 1."""
        return [verdict_of(value) for value in self.distances(features) / self.threshold]

    def to_tensors(self) -> dict[str, torch.Tensor]:
        return {
            f"{TENSOR_PREFIX}mean": torch.from_numpy(self.mean.astype(np.float32)),
            f"{TENSOR_PREFIX}precision": torch.from_numpy(self.precision.astype(np.float32)),
        }

    def to_metadata(self) -> dict[str, Any]:
        return {**self.info, "score": SCORE_NAME, "dim": int(self.mean.shape[0]), "threshold": self.threshold}

    @classmethod
    def from_artifact(
        cls, tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, Any]
    ) -> DomainStatistics | None:
        """The statistics an artifact carries, or None when it was written without them."""
        info = metadata.get(METADATA_KEY)
        if info is None:
            return None
        try:
            mean = tensors[f"{TENSOR_PREFIX}mean"].double().numpy()
            precision = tensors[f"{TENSOR_PREFIX}precision"].double().numpy()
            threshold = float(info["threshold"])
        except KeyError as error:
            raise ArtifactError(
                f"domain statistics are incomplete (no {error}); rerun `perception-train ood-calibrate`"
            ) from error
        if precision.shape != (mean.shape[0], mean.shape[0]) or not threshold > 0.0:
            raise ArtifactError(
                f"domain statistics do not fit: mean {tuple(mean.shape)}, precision "
                f"{tuple(precision.shape)}, threshold {threshold}; rerun `perception-train ood-calibrate`"
            )
        return cls(mean, precision, threshold, info)


def load_statistics(path: str | Path) -> DomainStatistics | None:
    """The domain statistics of the artifact at ``path`` (None when it has none)."""
    return DomainStatistics.from_artifact(*load_artifact(path))


def model_tensors(tensors: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The network's own tensors: what ``load_state_dict`` takes, without the domain statistics."""
    return {name: tensor for name, tensor in tensors.items() if not name.startswith(TENSOR_PREFIX)}


def channel_statistics(feature_map: torch.Tensor) -> torch.Tensor:
    """(B, 2C) mean and standard deviation of each channel of (B, C, H, W) maps: the image's
    "style" (texture, contrast, noise), where rendered and real frames differ most."""
    std, mean = torch.std_mean(feature_map.float().flatten(2), dim=2, correction=0)
    return torch.cat([mean, std], dim=1)


def average_maps(maps: Sequence[torch.Tensor]) -> torch.Tensor:
    """(B, sum C) global averages of feature maps (B, C, H, W): the detector head's inputs."""
    return torch.cat([feature_map.float().mean(dim=(2, 3)) for feature_map in maps], dim=1)


def average_grid(grid: torch.Tensor) -> torch.Tensor:
    """(B, C) average of an encoder grid (B, H*W, C): the captioner's pooled features."""
    return grid.float().mean(dim=1)


@dataclass(frozen=True)
class TapPoint:
    """Where a tap reads: a module's first input (or, with ``output``, its output), pooled to (B, D)."""

    module: nn.Module
    pool: Pool = torch.as_tensor
    output: bool = False


def style_and_content(early: Sequence[nn.Module], penultimate: TapPoint) -> list[TapPoint]:
    """The domain features of every model: channel statistics of its early blocks (style, which
    separates rendered from real frames) and its pooled penultimate features (content, which
    separates blank, noisy and saturated frames); docs/ood.md has the measurements."""
    return [*(TapPoint(block, channel_statistics, output=True) for block in early), penultimate]


class FeatureTap:
    """Keeps the pooled features of every forward pass at the given points, until :meth:`take`
    hands them over as one row per image; one tap serves scoring and fitting alike."""

    def __init__(self, points: Sequence[TapPoint]) -> None:
        self._batches: list[list[torch.Tensor]] = [[] for _ in points]
        self._handles = [
            self._hook(point, batches) for point, batches in zip(points, self._batches, strict=True)
        ]

    @staticmethod
    def _hook(point: TapPoint, batches: list[torch.Tensor]) -> Any:
        def keep(value: Any) -> None:
            batches.append(point.pool(value).detach().float().cpu())

        if point.output:
            return point.module.register_forward_hook(lambda _m, _i, out: keep(out))
        return point.module.register_forward_pre_hook(lambda _m, inputs: keep(inputs[0]))

    def take(self) -> np.ndarray:
        """(N, D) features of every forward pass since the last call (N = 0 when none ran)."""
        features = self.take_tensor()
        return np.zeros((0, 0), np.float32) if features is None else features.numpy()

    def take_tensor(self) -> torch.Tensor | None:
        """The same as one tensor, None when no pass ran; traceable, so an ONNX export computes the
        features inside the graph from the very pass that gives the outputs."""
        taken = [torch.cat(batches) if batches else None for batches in self._batches]
        for batches in self._batches:
            batches.clear()
        if any(part is None for part in taken):
            return None
        return torch.cat(taken, dim=1)

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()


@dataclass
class DomainMonitor:
    """A model's tap plus its statistics: the verdicts of the forward passes since the last call."""

    statistics: DomainStatistics
    tap: FeatureTap

    def verdicts(self) -> list[DomainVerdict]:
        features = self.tap.take()
        return self.statistics.verdicts(features) if len(features) else []


def last_linear(model: nn.Module) -> nn.Linear:
    """A classifier's output layer: its input is the penultimate-layer feature vector."""
    linears = [module for module in model.modules() if isinstance(module, nn.Linear)]
    if not linears:
        raise ArtifactError(f"{type(model).__name__} has no linear output layer to take features from")
    return linears[-1]
