"""Caption BGR frames with a trained artifact: preprocessing, artifact I/O and :class:`Captioner`.

What the caption node and the training code share at the edges of the model: frames become
normalised tensors the same way in both (:func:`preprocess`), an artifact is written by
:func:`save_captioner` and read by :func:`model_from_artifact` only. The network is
:mod:`perception.core.caption_model`, decoding :mod:`perception.core.caption_decoding`.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from perception.core.artifacts import code_version, load_artifact, save_artifact
from perception.core.caption_decoding import decode_batch, grounding_from_metadata
from perception.core.caption_model import ARCHITECTURE, CaptionerConfig, CaptionModel
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
from perception.core.images import check_bgr8
from perception.core.text.tokenizers import Tokenizer, get_tokenizer
from perception.core.text.vocabulary import Vocabulary


def preprocess(
    images_bgr: list[np.ndarray],
    image_size: int,
    mean: tuple[float, ...] = IMAGENET_MEAN,
    std: tuple[float, ...] = IMAGENET_STD,
) -> torch.Tensor:
    """BGR uint8 frames -> normalised RGB batch (B, 3, S, S); bad frames raise ValueError."""
    batch = np.stack([_resized_rgb(image, image_size, index) for index, image in enumerate(images_bgr)])
    tensor = torch.from_numpy(batch).permute(0, 3, 1, 2).float().div_(255.0)
    return (tensor - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)


def _resized_rgb(image: np.ndarray, size: int, index: int) -> np.ndarray:
    check_bgr8(image, f"the captioner (image {index})")
    return cv2.cvtColor(cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)


def save_captioner(
    path: str | Path,
    model: CaptionModel,
    vocabulary: Vocabulary,
    *,
    tokenizer: str,
    language: str,
    image_size: int,
    max_len: int,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write a ``captioner`` artifact holding everything :meth:`Captioner.load` needs."""
    metadata = captioner_metadata(model.config, vocabulary, tokenizer, language, image_size, max_len)
    return save_artifact(path, model.state_dict(), {**metadata, **(extra or {})})


def captioner_metadata(
    config: CaptionerConfig,
    vocabulary: Vocabulary,
    tokenizer: str,
    language: str,
    image_size: int,
    max_len: int,
) -> dict[str, Any]:
    """What a ``captioner`` artifact's metadata must hold for :meth:`Captioner.load`."""
    return {
        "kind": "captioner",
        "architecture": ARCHITECTURE,
        "model_config": asdict(config),
        **vocabulary.to_metadata(),
        "language": language,
        "tokenizer": tokenizer,
        "input_size": [image_size, image_size],
        "normalization": {"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "color": "rgb"},
        "max_len": max_len,
        "code_version": code_version(),
    }


def model_from_artifact(
    path: str | Path, device: str = "cpu"
) -> tuple[CaptionModel, Vocabulary, dict[str, Any]]:
    """Rebuild the model (eval mode, on ``device``) and vocabulary from a captioner artifact."""
    tensors, metadata = load_artifact(path, expected_kind="captioner")
    model = CaptionModel(CaptionerConfig(**metadata["model_config"]))
    model.load_state_dict(model_tensors(tensors))
    return model.to(device).eval(), Vocabulary.from_metadata(metadata), metadata


class Captioner:
    """Caption BGR frames with a trained artifact: ``caption(image) -> (text, score)``.

    ``score`` is the mean probability of the emitted tokens, a cheap confidence a behaviour
    node can threshold on. With ``grounded`` (default) the artifact's grounded words (metadata
    ``grounding``, written by ``perception_training.captioning.grounding``) are only emitted
    where the concept head agrees; see :class:`perception.core.caption_decoding.Grounding`.
    """

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
        self.model = model
        self.vocabulary = vocabulary
        self.metadata = metadata
        self.device = device
        self.beam_size = beam_size
        self.grounding = grounding_from_metadata(metadata, vocabulary) if grounded else None
        self.tokenizer: Tokenizer = get_tokenizer(metadata["tokenizer"])
        self.image_size = int(metadata["input_size"][0])
        self.max_len = int(metadata["max_len"])
        self.mean = tuple(metadata["normalization"]["mean"])
        self.std = tuple(metadata["normalization"]["std"])
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
        """How unlike the training scenes each frame captioned since the last call was, in order;
        [] without statistics."""
        return self._domain.verdicts() if self._domain is not None else []

    def domain_tap(self) -> FeatureTap:
        """Style of the encoder's first blocks and its grid averaged, which every decoding step attends to."""
        encoder = self.model.encoder
        early = encoder.features[1 : EARLY_BLOCKS + 1]
        return FeatureTap(style_and_content(early, TapPoint(encoder, average_grid, output=True)))

    def caption(self, image_bgr: np.ndarray) -> tuple[str, float]:
        """Caption one frame."""
        return self.caption_batch([image_bgr])[0]

    def caption_batch(self, images_bgr: list[np.ndarray]) -> list[tuple[str, float]]:
        """Caption several frames in one forward pass (beam search goes frame by frame)."""
        if not images_bgr:
            return []
        batch = preprocess(images_bgr, self.image_size, self.mean, self.std).to(self.device)
        start, end = self.vocabulary.start, self.vocabulary.end
        with torch.autocast("cuda", dtype=torch.float16, enabled=half_supported(self.device)):
            decoded = decode_batch(
                self.model, batch, start, end, self.max_len, self.beam_size, self.grounding
            )
        return [(self.tokenizer.detokenize(self.vocabulary.decode(ids)), score) for ids, score in decoded]
