"""Captioning on ONNX Runtime: :class:`~perception.core.captioner.Captioner`'s API without torch, from
an export made by ``perception-train export-onnx``: ``A.onnx`` runs the encoder once per batch of
frames (the grid features, what the decoder starts from, the concept head's probabilities and, for
an artifact with domain statistics, each frame's domain score) and ``A.decoder.onnx`` one decoder
step, which :mod:`perception.core.caption_search` loops over word by word."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from perception.core.caption_api import CAPTIONER_KIND, BaseCaptioner
from perception.core.domain_verdict import DomainVerdict, verdict_of
from perception.core.model_files import ArtifactError
from perception.core.onnx_session import (
    DECODER_PART,
    DOMAIN_OUTPUT,
    ON_CPU,
    OnnxSession,
    SessionOptions,
    export_command,
    part_path,
)
from perception.core.text.vocabulary import Vocabulary

# Encoder graph outputs: grid features (B, H*W, C), their attention projection (B, H*W, A), the
# decoder's initial state (B, hidden) and the concept head's probabilities (B, vocabulary).
FEATURES, PROJECTED, HIDDEN, CONCEPTS = "features", "projected", "hidden", "concepts"
ENCODER_OUTPUTS = (FEATURES, PROJECTED, HIDDEN, CONCEPTS)
# Decoder step graph: inputs previous tokens (N,) int64, states (N, hidden), features and projection
# of each row's image; outputs the next word's logits (N, vocabulary) and the next states.
TOKENS, LOGITS, NEXT_HIDDEN = "tokens", "logits", "next_hidden"
DECODER_INPUTS = (TOKENS, HIDDEN, FEATURES, PROJECTED)
DECODER_OUTPUTS = (LOGITS, NEXT_HIDDEN)


class OnnxEncoded:
    """A batch of frames through the encoder graph, decoded a step at a time by the decoder graph."""

    def __init__(self, decoder: OnnxSession, outputs: dict[str, np.ndarray]) -> None:
        self.decoder = decoder
        self.outputs = outputs

    def __len__(self) -> int:
        return len(self.outputs[FEATURES])

    def concept_probabilities(self) -> np.ndarray:
        return self.outputs[CONCEPTS]

    def start(self, image: int | None) -> np.ndarray:
        hidden = self.outputs[HIDDEN]
        return hidden if image is None else hidden[image : image + 1]

    def step(
        self, tokens: np.ndarray, states: np.ndarray, image: int | None
    ) -> tuple[np.ndarray, np.ndarray]:
        features, projected = self.outputs[FEATURES], self.outputs[PROJECTED]
        if image is not None:
            features = np.repeat(features[image : image + 1], len(tokens), axis=0)
            projected = np.repeat(projected[image : image + 1], len(tokens), axis=0)
        feeds = {TOKENS: tokens, HIDDEN: states, FEATURES: features, PROJECTED: projected}
        result = self.decoder.run_feeds(feeds)
        return result[LOGITS], result[NEXT_HIDDEN]

    def select(self, states: np.ndarray, rows: list[int]) -> np.ndarray:
        return states[rows]


class OnnxCaptioner(BaseCaptioner):
    """A captioner's ``.onnx`` export (and its ``.decoder.onnx`` beside it) plus its vocabulary."""

    def __init__(
        self, encoder: OnnxSession, decoder: OnnxSession, beam_size: int = 1, grounded: bool = True
    ) -> None:
        try:
            vocabulary = Vocabulary.from_metadata(encoder.metadata)
            super().__init__(vocabulary, encoder.metadata, beam_size, grounded)
        except (KeyError, TypeError, ValueError) as error:
            raise ArtifactError(
                f"{encoder.path} lacks our captioner metadata ({error!r}); make it from the artifact with "
                f"`{export_command(encoder.path)}`"
            ) from error
        self.encoder = encoder
        self.decoder = decoder
        self._verdicts: list[DomainVerdict] = []

    @classmethod
    def load(
        cls, path: str | Path, options: SessionOptions = ON_CPU, beam_size: int = 1, grounded: bool = True
    ) -> OnnxCaptioner:
        """Our export of a captioner artifact; ArtifactError names the file, the problem and the fix."""
        path = Path(path)
        encoder = OnnxSession.open(path, options, expected_kind=CAPTIONER_KIND)
        part = encoder.metadata.get("onnx", {}).get("part")
        if part is not None:
            raise ArtifactError(
                f"{path} is the {part} part of a captioner export; set model_path to the export itself, "
                f"{path.with_suffix('').with_suffix('.onnx')}"
            )
        decoder = OnnxSession.open(part_path(path, DECODER_PART), options, expected_kind=CAPTIONER_KIND)
        captioner = cls(encoder, decoder, beam_size, grounded)
        captioner._warm_up()
        return captioner

    def _warm_up(self) -> None:
        """One blank frame, so graphs that cannot run (or do not fit each other) fail at load."""
        try:
            self.caption(np.zeros((self.image_size, self.image_size, 3), np.uint8))
        except Exception as error:  # onnxruntime raises its own types for a graph that cannot run
            raise ArtifactError(
                f"{self.encoder.path} and {self.decoder.path} could not run together "
                f"({type(error).__name__}: {error}); export them again with "
                f"`{export_command(self.encoder.path)}`"
            ) from error
        self.domain_verdicts()

    def domain_verdicts(self) -> list[DomainVerdict]:
        verdicts, self._verdicts = self._verdicts, []
        return verdicts

    def encode(self, batch: np.ndarray) -> OnnxEncoded:
        outputs = self.encoder.run(batch)
        if self.encoder.scored:
            self._verdicts.extend(verdict_of(float(score)) for score in outputs[DOMAIN_OUTPUT])
        return OnnxEncoded(self.decoder, outputs)
