"""Image classification on ONNX Runtime: :class:`~perception.core.classifier.Classifier`'s API
without torch, from an export made by ``perception-train export-onnx`` (its graph gives softmax
probabilities and, for an artifact with domain statistics, each crop's domain score)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from perception.core.classifier_io import CLASSIFIER_KIND, Prediction, Preprocessing, best_classes
from perception.core.domain_verdict import DomainVerdict, verdict_of
from perception.core.images import check_bgr8
from perception.core.model_files import ArtifactError, model_id
from perception.core.onnx_session import DOMAIN_OUTPUT, ON_CPU, OnnxSession, SessionOptions, export_command

PROBABILITIES = "probabilities"  # graph output: N x classes


class OnnxClassifier:
    """A classifier ``.onnx`` plus its classes and preprocessing, ready for batched prediction."""

    def __init__(
        self, session: OnnxSession, classes: Sequence[str], preprocessing: Preprocessing, batch_size: int = 32
    ) -> None:
        self.session = session
        self.model_id = model_id(session.path)
        self.classes = list(classes)
        self.preprocessing = preprocessing
        self.batch_size = batch_size
        self._verdicts: list[DomainVerdict] = []

    @classmethod
    def load(cls, path: str | Path, options: SessionOptions = ON_CPU, batch_size: int = 32) -> OnnxClassifier:
        """Our export of a classifier artifact; ArtifactError names the file, the problem and the fix."""
        session = OnnxSession.open(path, options, expected_kind=CLASSIFIER_KIND)
        try:
            classes = list(session.metadata["classes"])
            preprocessing = Preprocessing.from_metadata(session.metadata)
        except (KeyError, TypeError, ValueError) as error:
            raise ArtifactError(
                f"{path} lacks our classifier metadata ({error!r}); make it from the artifact with "
                f"`{export_command(Path(path))}`"
            ) from error
        classifier = cls(session, classes, preprocessing, batch_size)
        classifier._warm_up()
        return classifier

    def _warm_up(self) -> None:
        """One blank crop, so a graph that cannot run fails at load, not on the first camera frame."""
        blank = np.zeros((self.preprocessing.image_size, self.preprocessing.image_size, 3), np.uint8)
        try:
            self.predict([blank])
        except Exception as error:  # onnxruntime raises its own types for a graph that cannot run
            raise ArtifactError(
                f"{self.session.path} could not run ({type(error).__name__}: {error}); export it again "
                f"with `{export_command(self.session.path)}`"
            ) from error
        self.domain_verdicts()

    def predict(self, crops_bgr: Sequence[np.ndarray]) -> list[Prediction]:
        """Classify BGR uint8 crops (any sizes) in batches; one Prediction per crop, in order."""
        return best_classes(self.probabilities(crops_bgr), self.classes)

    def domain_verdicts(self) -> list[DomainVerdict]:
        """How unlike the training crops each crop since the last call was; [] when not scored."""
        verdicts, self._verdicts = self._verdicts, []
        return verdicts

    def probabilities(self, crops_bgr: Sequence[np.ndarray]) -> np.ndarray:
        """Softmax class probabilities, ``N x num_classes``."""
        for index, crop in enumerate(crops_bgr):
            check_bgr8(crop, f"the classifier (crop {index})")
        outputs = [np.empty((0, len(self.classes)), np.float32)]
        for start in range(0, len(crops_bgr), self.batch_size):
            chunk = [cv2.cvtColor(c, cv2.COLOR_BGR2RGB) for c in crops_bgr[start : start + self.batch_size]]
            result = self.session.run(self.preprocessing.to_array(chunk))
            outputs.append(result[PROBABILITIES])
            if self.session.scored:
                self._verdicts.extend(verdict_of(float(score)) for score in result[DOMAIN_OUTPUT])
        return np.concatenate(outputs)
