"""Read a model's features (for the Mahalanobis distance) and its energy on a batch of images.

One probe per artifact kind, built on the model's own ``domain_tap`` so the features fitted
here are the ones the node scores; the energy (-logsumexp of the output logits, Liu et al.
2020) is only measured, for the comparison in docs/ood.md.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from perception.core.artifacts import read_metadata
from perception.core.captioner import Captioner, preprocess
from perception.core.classifier import Classifier
from perception.core.detector import Detector
from perception.core.domain import FeatureTap, TapPoint, average_grid, last_linear
from perception.core.sign import SIGN_KIND, SignRecognizer

_EPS = 1e-6


class Probe(Protocol):
    def measure(self, images: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(N x D features, N energies) of BGR uint8 images."""
        ...


def energy(logits: torch.Tensor) -> torch.Tensor:
    """(..., 1) free energy of each row of logits: low where the model is sure of some class."""
    return -torch.logsumexp(logits.float(), dim=-1, keepdim=True)


def detector_energy(output: object) -> torch.Tensor:
    """(B, 1) energy of a YOLO head's output: its most confident anchor's (class probabilities
    come out sigmoid-ed, so they are turned back into logits)."""
    predictions = output[0] if isinstance(output, (tuple, list)) else output
    probabilities = predictions[:, 4:, :].float().clamp(_EPS, 1.0 - _EPS)
    return energy(torch.logit(probabilities).transpose(1, 2)).amin(dim=1)


class DetectorProbe:
    def __init__(self, path: Path, input_size: int | None = None) -> None:
        self.model = Detector.load(path, device="cpu", imgsz=input_size)
        self.features = self.model.domain_tap()
        self.energies = FeatureTap([TapPoint(self.model.layers()[-1], detector_energy, output=True)])

    def measure(self, images: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        for image in images:
            self.model.detect(image)
        return self.features.take(), self.energies.take()[:, 0]


class ClassifierProbe:
    def __init__(self, path: Path) -> None:
        self.model = Classifier.load(path, device="cpu")
        self.features = self.model.domain_tap()
        self.energies = FeatureTap([TapPoint(last_linear(self.model.model), energy, output=True)])

    def measure(self, images: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        self.model.probabilities(images)
        return self.features.take(), self.energies.take()[:, 0]


class CaptionerProbe:
    """Runs the encoder only: the decoder reads nothing the domain score uses."""

    def __init__(self, path: Path) -> None:
        self.model = Captioner.load(path, device="cpu")
        self.features = self.model.domain_tap()
        self.pooled = FeatureTap([TapPoint(self.model.model.encoder, average_grid, output=True)])

    def measure(self, images: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        batch = preprocess(list(images), self.model.image_size, self.model.mean, self.model.std)
        with torch.inference_mode():
            self.model.model.encoder(batch)
            concepts = self.model.model.concepts(torch.from_numpy(self.pooled.take()))
        return self.features.take(), energy(concepts)[:, 0].numpy()


class SignProbe:
    """Each "image" is a clip ``(T, H, W, 3)`` of BGR frames, run one at a time as the node runs them."""

    def __init__(self, path: Path) -> None:
        self.model = SignRecognizer.load(path, device="cpu")
        self.features = self.model.domain_tap()
        self.energies = FeatureTap([TapPoint(last_linear(self.model.model), _flat_energy, output=True)])

    def measure(self, clips: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        for clip in clips:
            self.model.predict(clip)
        return self.features.take(), self.energies.take()[:, 0]


def _flat_energy(logits: torch.Tensor) -> torch.Tensor:
    """Energy of a PyTorchVideo head's projection output, (B, 1, 1, 1, classes)."""
    return energy(logits.flatten(1))


PROBES = {
    "detector": DetectorProbe,
    "classifier": ClassifierProbe,
    "captioner": CaptionerProbe,
    SIGN_KIND: SignProbe,
}


def open_probe(path: Path, input_size: int | None = None) -> tuple[Probe, str]:
    """The probe of the artifact at ``path`` and its kind; ``input_size`` sets a detector's."""
    kind = read_metadata(path)["kind"]
    if kind not in PROBES:
        raise SystemExit(f"{path} is a {kind!r} artifact; domain statistics exist for {sorted(PROBES)}")
    if kind == "detector":
        return DetectorProbe(path, input_size), kind
    return PROBES[kind](path), kind


def measure_all(probe: Probe, images: Iterable[np.ndarray], batch: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Features and energies of any number of images, ``batch`` at a time."""
    measured = [probe.measure(chunk) for chunk in _chunks(images, batch)]
    return np.concatenate([f for f, _ in measured]), np.concatenate([e for _, e in measured])


def _chunks(items: Iterable[np.ndarray], size: int) -> Iterator[list[np.ndarray]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk
