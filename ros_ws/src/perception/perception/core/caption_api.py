"""What a captioner's clients share, kept free of torch: the artifact kind, the frames' preprocessing,
the decoding of a batch to text around whichever runtime runs the network, and the loader that
picks the runtime by the file's suffix (``.onnx``: ONNX Runtime, no torch; otherwise
:mod:`perception.core.captioner`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from perception.core.caption_search import EncodedImages, decode, grounding_from_metadata
from perception.core.constants import IMAGENET_MEAN, IMAGENET_STD
from perception.core.domain_verdict import DomainVerdict
from perception.core.images import check_bgr8
from perception.core.onnx_session import ON_CPU, ONNX_SUFFIX, SessionOptions
from perception.core.text.tokenizers import Tokenizer, get_tokenizer
from perception.core.text.vocabulary import Vocabulary

if TYPE_CHECKING:
    from perception.core.caption_onnx import OnnxCaptioner
    from perception.core.captioner import Captioner

CAPTIONER_KIND = "captioner"


def preprocess_array(
    images_bgr: list[np.ndarray],
    image_size: int,
    mean: tuple[float, ...] = IMAGENET_MEAN,
    std: tuple[float, ...] = IMAGENET_STD,
) -> np.ndarray:
    """BGR uint8 frames -> normalised float32 RGB batch (B, 3, S, S); bad frames raise ValueError."""
    batch = np.stack([_resized_rgb(image, image_size, index) for index, image in enumerate(images_bgr)])
    scaled = batch.astype(np.float32) / np.float32(255.0)
    normalised = (scaled - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return np.ascontiguousarray(normalised.transpose(0, 3, 1, 2))


def _resized_rgb(image: np.ndarray, size: int, index: int) -> np.ndarray:
    check_bgr8(image, f"the captioner (image {index})")
    return cv2.cvtColor(cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)


class BaseCaptioner(ABC):
    """Caption BGR frames: ``caption(image) -> (text, score)``, whichever runtime runs the network.

    ``score`` is the mean probability of the emitted tokens, a cheap confidence a behaviour
    node can threshold on. With ``grounded`` (default) the artifact's grounded words (metadata
    ``grounding``, written by ``perception_training.captioning.grounding``) are only emitted
    where the concept head agrees; see :class:`perception.core.caption_search.Grounding`.
    """

    def __init__(
        self, vocabulary: Vocabulary, metadata: dict[str, Any], beam_size: int = 1, grounded: bool = True
    ) -> None:
        self.vocabulary = vocabulary
        self.metadata = metadata
        self.beam_size = beam_size
        self.grounding = grounding_from_metadata(metadata, vocabulary) if grounded else None
        self.tokenizer: Tokenizer = get_tokenizer(metadata["tokenizer"])
        self.image_size = int(metadata["input_size"][0])
        self.max_len = int(metadata["max_len"])
        self.mean = tuple(metadata["normalization"]["mean"])
        self.std = tuple(metadata["normalization"]["std"])

    @abstractmethod
    def encode(self, batch: np.ndarray) -> EncodedImages[Any]:
        """A preprocessed batch (:func:`preprocess_array`) through the encoder, ready to decode."""

    @abstractmethod
    def domain_verdicts(self) -> list[DomainVerdict]:
        """How unlike the training scenes each frame captioned since the last call was, in order;
        [] when not scored."""

    def caption(self, image_bgr: np.ndarray) -> tuple[str, float]:
        """Caption one frame."""
        return self.caption_batch([image_bgr])[0]

    def caption_batch(self, images_bgr: list[np.ndarray]) -> list[tuple[str, float]]:
        """Caption several frames in one encoder pass (beam search decodes frame by frame)."""
        if not images_bgr:
            return []
        encoded = self.encode(preprocess_array(images_bgr, self.image_size, self.mean, self.std))
        start, end = self.vocabulary.start, self.vocabulary.end
        decoded = decode(encoded, start, end, self.max_len, self.beam_size, self.grounding)
        return [(self.tokenizer.detokenize(self.vocabulary.decode(ids)), score) for ids, score in decoded]


def load_captioner(
    path: str | Path,
    device: str = "auto",
    beam_size: int = 1,
    grounded: bool = True,
    onnx: SessionOptions = ON_CPU,
) -> Captioner | OnnxCaptioner:
    """An ``.onnx`` export on ONNX Runtime with ``onnx`` (``device`` unused, no torch imported); an
    artifact on torch at ``device`` (``onnx`` unused)."""
    if Path(path).suffix.lower() == ONNX_SUFFIX:
        from perception.core.caption_onnx import OnnxCaptioner

        return OnnxCaptioner.load(path, onnx, beam_size, grounded)
    from perception.core.captioner import Captioner

    return Captioner.load(path, device=device, beam_size=beam_size, grounded=grounded)
