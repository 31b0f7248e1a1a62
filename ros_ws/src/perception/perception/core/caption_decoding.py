"""A caption model's decoding on torch: its encoder and decoder steps as
:class:`~perception.core.caption_search.EncodedImages`, and greedy and beam search on them.

The decoding rules themselves (grounded words, stopping, scores) are
:mod:`perception.core.caption_search`, shared with the ONNX Runtime captioner; this module feeds
them the torch network's steps.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import TYPE_CHECKING

import numpy as np
import torch

from perception.core import caption_search
from perception.core.caption_search import GroundedGroup, Grounding, grounding_from_metadata

if TYPE_CHECKING:
    from perception.core.caption_model import CaptionModel

__all__ = [  # the grounding types are re-exported: they lived here before caption_search held them
    "GroundedGroup",
    "Grounding",
    "TorchEncoded",
    "beam_search",
    "decode_batch",
    "greedy",
    "grounding_from_metadata",
]


class TorchEncoded:
    """A batch of images through ``model``'s encoder, decoded a step at a time by the torch decoder
    (FP16 autocast with ``half``, on CUDA)."""

    def __init__(self, model: CaptionModel, images: torch.Tensor, half: bool = False) -> None:
        self.model = model
        self.half = half
        with self._running():
            self.features = model.encoder(images)
            self.hidden, self.projected = model.decoder.start(self.features)

    def _running(self) -> ExitStack:
        stack = ExitStack()
        stack.enter_context(torch.no_grad())
        stack.enter_context(torch.autocast("cuda", dtype=torch.float16, enabled=self.half))
        return stack

    def __len__(self) -> int:
        return self.features.size(0)

    def concept_probabilities(self) -> np.ndarray:
        with self._running():
            return self.model.concept_probabilities(self.features).cpu().numpy()

    def start(self, image: int | None) -> torch.Tensor:
        return self.hidden if image is None else self.hidden[image : image + 1]

    def step(
        self, tokens: np.ndarray, states: torch.Tensor, image: int | None
    ) -> tuple[np.ndarray, torch.Tensor]:
        features, projected = self.features, self.projected
        if image is not None:
            count = len(tokens)
            features = features[image : image + 1].expand(count, -1, -1)
            projected = projected[image : image + 1].expand(count, -1, -1)
        with self._running():
            logits, states = self.model.decoder.step(
                torch.from_numpy(tokens).to(features.device), states, features, projected
            )
        return logits.float().cpu().numpy(), states

    def select(self, states: torch.Tensor, rows: list[int]) -> torch.Tensor:
        return states[torch.tensor(rows, dtype=torch.long, device=states.device)]


def greedy(
    model: CaptionModel,
    images: torch.Tensor,
    start: int,
    end: int,
    max_len: int,
    grounding: Grounding | None = None,
) -> tuple[list[list[int]], list[float]]:
    """Most likely next word at each step: ``(token ids per image, mean token probability)``."""
    return caption_search.greedy(TorchEncoded(model, images), start, end, max_len, grounding)


def beam_search(
    model: CaptionModel,
    image: torch.Tensor,
    start: int,
    end: int,
    max_len: int,
    beam_size: int = 3,
    grounding: Grounding | None = None,
) -> tuple[list[int], float]:
    """Best sequence of one image (1, C, H, W) by length-normalised log-probability."""
    return caption_search.beam_search(
        TorchEncoded(model, image), 0, start, end, max_len, beam_size, grounding
    )


def decode_batch(
    model: CaptionModel,
    images: torch.Tensor,
    start: int,
    end: int,
    max_len: int,
    beam_size: int = 1,
    grounding: Grounding | None = None,
) -> list[tuple[list[int], float]]:
    """``(token ids, score)`` per image: greedy over the batch, or beam search image by image."""
    return caption_search.decode(TorchEncoded(model, images), start, end, max_len, beam_size, grounding)
