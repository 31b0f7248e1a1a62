"""Image classification: the model factory (re-exported) and batched inference on BGR crops.

Training (``perception_training.classification``), the glass node and the benchmarks all
build networks through :func:`build_classifier` and preprocess through :class:`Preprocessing`,
so an artifact is always read back exactly as it was trained.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from perception.core.artifacts import ArtifactError, load_artifact, model_id
from perception.core.classifier_io import CLASSIFIER_KIND, Prediction, Preprocessing, best_classes
from perception.core.classifier_models import (
    ARCHITECTURES,
    ClassifierBuildError,
    build_classifier,
)
from perception.core.devices import resolve_device
from perception.core.domain import (
    EARLY_BLOCKS,
    DomainMonitor,
    DomainStatistics,
    DomainVerdict,
    FeatureTap,
    TapPoint,
    last_linear,
    model_tensors,
    style_and_content,
)
from perception.core.images import check_bgr8

__all__ = [
    "ARCHITECTURES",
    "CLASSIFIER_KIND",
    "TRAINING_STATE_PREFIX",
    "Classifier",
    "ClassifierBuildError",
    "Prediction",
    "Preprocessing",
    "build_classifier",
]

# Tensors under this prefix (optimizer state in a `latest` checkpoint) are not model weights.
TRAINING_STATE_PREFIX = "training_state."


def domain_points(model: nn.Module) -> list[TapPoint]:
    """Style of the first backbone blocks (where the network has ``features``, as torchvision's
    CNNs do) and the output layer's input, the penultimate features of every crop."""
    features = getattr(model, "features", None)
    early = features[1 : EARLY_BLOCKS + 1] if isinstance(features, nn.Sequential) else []
    return style_and_content(early, TapPoint(last_linear(model)))


class Classifier:
    """A trained classifier plus its classes and preprocessing, ready for batched prediction."""

    def __init__(
        self,
        model: nn.Module,
        classes: Sequence[str],
        preprocessing: Preprocessing,
        device: str = "auto",
        batch_size: int = 32,
        model_id: str = "",
        statistics: DomainStatistics | None = None,
    ) -> None:
        """``model_id`` names the weights in every output (``Classifier.load`` sets it from the file);
        with ``statistics`` every crop is scored against the training data (:meth:`domain_verdicts`)."""
        self.model_id = model_id
        self.device = torch.device(resolve_device(device))
        self.model = model.to(self.device).eval()
        self.classes = list(classes)
        self.preprocessing = preprocessing
        self.batch_size = batch_size
        self._domain = DomainMonitor(statistics, self.domain_tap()) if statistics is not None else None

    @classmethod
    def load(cls, artifact_path: str | Path, device: str = "auto", batch_size: int = 32) -> Classifier:
        """Build the network an artifact describes and load its weights (never unpickles)."""
        tensors, metadata = load_artifact(artifact_path, expected_kind=CLASSIFIER_KIND)
        try:
            classes = list(metadata["classes"])
            preprocessing = Preprocessing.from_metadata(metadata)
            model = build_classifier(metadata["architecture"], len(classes), preprocessing.image_size)
        except (KeyError, TypeError, ValueError) as error:
            raise ArtifactError(
                f"{artifact_path} has incomplete classifier metadata ({error!r}); "
                "regenerate it with perception-train classify"
            ) from error
        weights = {k: v for k, v in model_tensors(tensors).items() if not k.startswith(TRAINING_STATE_PREFIX)}
        try:
            model.load_state_dict(weights)
        except RuntimeError as error:
            raise ArtifactError(
                f"{artifact_path}: weights do not fit {metadata['architecture']} with "
                f"{len(classes)} classes ({error}); the file is corrupt or was edited"
            ) from error
        statistics = DomainStatistics.from_artifact(tensors, metadata)
        return cls(model, classes, preprocessing, device, batch_size, model_id(artifact_path), statistics)

    def predict(self, crops_bgr: Sequence[np.ndarray]) -> list[Prediction]:
        """Classify BGR uint8 crops (any sizes) in batches; one Prediction per crop, in order."""
        return best_classes(self.probabilities(crops_bgr).numpy(), self.classes)

    def domain_verdicts(self) -> list[DomainVerdict]:
        """How unlike the training crops each crop since the last call was; [] without statistics."""
        return self._domain.verdicts() if self._domain is not None else []

    def domain_tap(self) -> FeatureTap:
        """A tap at :func:`domain_points` of this classifier's network."""
        return FeatureTap(domain_points(self.model))

    def probabilities(self, crops_bgr: Sequence[np.ndarray]) -> torch.Tensor:
        """Softmax class probabilities, ``N x num_classes`` on the CPU."""
        for index, crop in enumerate(crops_bgr):
            check_bgr8(crop, f"the classifier (crop {index})")
        outputs = [torch.empty(0, len(self.classes))]
        with torch.inference_mode():
            for start in range(0, len(crops_bgr), self.batch_size):
                chunk = [
                    cv2.cvtColor(c, cv2.COLOR_BGR2RGB) for c in crops_bgr[start : start + self.batch_size]
                ]
                logits = self.model(torch.from_numpy(self.preprocessing.to_array(chunk)).to(self.device))
                outputs.append(logits.float().softmax(dim=1).cpu())
        return torch.cat(outputs)
