"""Sign words on ONNX Runtime: :class:`~perception.core.sign.SignRecognizer`'s API without torch,
from an export made by ``perception-train export-onnx`` (its graph takes one clip of the artifact's
fixed frames and crop, and gives softmax probabilities and, for an artifact with domain
statistics, the clip's domain score)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from perception.core.domain_verdict import UNSCORED, DomainVerdict, verdict_of
from perception.core.model_files import ArtifactError
from perception.core.onnx_session import DOMAIN_OUTPUT, ON_CPU, OnnxSession, SessionOptions, export_command
from perception.core.sign_api import IDLE_CLASS, SIGN_KIND, SignPrediction, clip_duration, ranking
from perception.core.video_clips import VideoModelSpec, clip_array

PROBABILITIES = "probabilities"  # graph output: 1 x classes


class OnnxSignRecognizer:
    """Word probabilities for clips of frames, from a sign model's ``.onnx``."""

    def __init__(self, session: OnnxSession) -> None:
        self.session = session
        self.metadata: dict[str, Any] = session.metadata
        try:
            self.spec = VideoModelSpec.from_dict({**self.metadata, "name": self.metadata["architecture"]})
            self.classes: list[str] = list(self.metadata["classes"])
        except (KeyError, TypeError) as error:
            raise ArtifactError(
                f"{session.path} lacks our sign metadata ({error!r}); make it from the artifact with "
                f"`{export_command(session.path)}`"
            ) from error
        self.glosses: list[str] = list(self.metadata.get("glosses") or self.classes)
        self.clip_duration = clip_duration(self.metadata)
        self.idle_id: int | None = self.classes.index(IDLE_CLASS) if IDLE_CLASS in self.classes else None
        self._verdict = UNSCORED

    @classmethod
    def load(cls, path: str | Path, options: SessionOptions = ON_CPU) -> OnnxSignRecognizer:
        """Our export of a sign artifact; ArtifactError names the file, the problem and the fix."""
        return cls(OnnxSession.open(path, options, expected_kind=SIGN_KIND))

    def domain_verdict(self) -> DomainVerdict:
        """How unlike the training clips the latest clip was (UNSCORED when not scored)."""
        return self._verdict

    def predict(self, frames: Sequence[np.ndarray], bgr: bool = True) -> np.ndarray:
        """Softmax over the classes for one clip of HxWx3 uint8 frames (BGR unless ``bgr=False``)."""
        outputs = self.session.run(clip_array(frames, self.spec, bgr=bgr))
        if self.session.scored:
            self._verdict = verdict_of(float(outputs[DOMAIN_OUTPUT][0]))
        return outputs[PROBABILITIES][0]

    def top_k(self, probabilities: np.ndarray, k: int = 3) -> list[SignPrediction]:
        """The ``k`` most likely words, best first."""
        return ranking(probabilities, self.classes, self.glosses, k)
