"""Caption BGR frames on torch with a trained artifact: artifact I/O and :class:`Captioner`.

What the caption node and the training code share at the edges of the model: frames become
normalised tensors the same way in both (:func:`preprocess`), an artifact is written by
``perception_training.captioning.artifact.save_captioner`` and read by
:func:`model_from_artifact` only. The network is
:mod:`perception.core.caption_model`, decoding :mod:`perception.core.caption_decoding`; what the
torch and ONNX Runtime captioners share is :mod:`perception.core.caption_api`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from perception.core.artifacts import load_artifact
from perception.core.caption_api import CAPTIONER_KIND, BaseCaptioner, preprocess_array
from perception.core.caption_decoding import TorchEncoded
from perception.core.caption_model import CaptionerConfig, CaptionModel
from perception.core.constants import IMAGENET_MEAN, IMAGENET_STD
from perception.core.devices import half_supported, resolve_device
from perception.core.domain import (
    EARLY_BLOCKS,
    DomainMonitor,
    DomainStatistics,
    DomainVerdict,
    FeatureTap,
    TapPoint,
    average_grid,
    load_statistics,
    model_tensors,
    style_and_content,
)
from perception.core.text.vocabulary import Vocabulary


def preprocess(
    images_bgr: list[np.ndarray],
    image_size: int,
    mean: tuple[float, ...] = IMAGENET_MEAN,
    std: tuple[float, ...] = IMAGENET_STD,
) -> torch.Tensor:
    """BGR uint8 frames -> normalised RGB batch (B, 3, S, S); bad frames raise ValueError."""
    return torch.from_numpy(preprocess_array(images_bgr, image_size, mean, std))


def model_from_artifact(
    path: str | Path, device: str = "cpu"
) -> tuple[CaptionModel, Vocabulary, dict[str, Any]]:
    """Rebuild the model (eval mode, on ``device``) and vocabulary from a captioner artifact."""
    tensors, metadata = load_artifact(path, expected_kind=CAPTIONER_KIND)
    model = CaptionModel(CaptionerConfig(**metadata["model_config"]))
    model.load_state_dict(model_tensors(tensors))
    return model.to(device).eval(), Vocabulary.from_metadata(metadata), metadata


def domain_points(model: CaptionModel) -> list[TapPoint]:
    """Style of the encoder's first blocks and its grid averaged, which every decoding step attends to."""
    encoder = model.encoder
    early = encoder.features[1 : EARLY_BLOCKS + 1]
    return style_and_content(early, TapPoint(encoder, average_grid, output=True))


class Captioner(BaseCaptioner):
    """:class:`~perception.core.caption_api.BaseCaptioner` on torch: the artifact's network on ``device``."""

    def __init__(
        self,
        model: CaptionModel,
        vocabulary: Vocabulary,
        metadata: dict[str, Any],
        device: str,
        beam_size: int = 1,
        grounded: bool = True,
        statistics: DomainStatistics | None = None,
    ) -> None:
        """With ``statistics`` every captioned frame is scored against the training data
        (:meth:`domain_verdicts`)."""
        super().__init__(vocabulary, metadata, beam_size, grounded)
        self.model = model
        self.device = device
        self._domain = DomainMonitor(statistics, self.domain_tap()) if statistics is not None else None

    @classmethod
    def load(
        cls, path: str | Path, device: str = "auto", beam_size: int = 1, grounded: bool = True
    ) -> Captioner:
        """Load an artifact onto ``device`` (auto | cpu | cuda[:N] | mps)."""
        resolved = resolve_device(device)
        model, vocabulary, metadata = model_from_artifact(path, resolved)
        return cls(model, vocabulary, metadata, resolved, beam_size, grounded, load_statistics(path))

    def domain_verdicts(self) -> list[DomainVerdict]:
        return self._domain.verdicts() if self._domain is not None else []

    def domain_tap(self) -> FeatureTap:
        """A tap at :func:`domain_points` of this captioner's network."""
        return FeatureTap(domain_points(self.model))

    def encode(self, batch: np.ndarray) -> TorchEncoded:
        tensor = torch.from_numpy(batch).to(self.device)
        return TorchEncoded(self.model, tensor, half_supported(self.device))
