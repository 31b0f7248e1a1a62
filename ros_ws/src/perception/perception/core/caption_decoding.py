"""Turning a caption model's step logits into sentences: greedy and beam search, with grounding.

Functions of a :class:`perception.core.caption_model.CaptionModel` rather than methods of it,
so the network stays a plain set of layers and every decoding rule (grounded words, stopping,
scores) reads in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from perception.core.artifacts import ArtifactError
from perception.core.text.vocabulary import Vocabulary

if TYPE_CHECKING:
    from perception.core.caption_model import CaptionModel


@dataclass(frozen=True)
class GroundedGroup:
    """Forms of one noun ("knife", "knives"): allowed while the likeliest of them reaches ``threshold``."""

    token_ids: tuple[int, ...]
    threshold: float


@dataclass(frozen=True)
class Grounding:
    """Words the decoder may emit only where the image-level concept head agrees.

    A caption that names a knife which is not there raises a false hazard alert. The
    bag-of-words head is trained on every image's words and, for an object noun, is a better
    calibrated detector than the language model's next-word choice (which likes to end a table
    scene with "and a knife"), so for these words the sentence needs both to agree.
    """

    groups: tuple[GroundedGroup, ...]


def grounding_from_metadata(metadata: dict[str, Any], vocabulary: Vocabulary) -> Grounding | None:
    """The artifact's calibrated :class:`Grounding`, or None when it has none."""
    groups = metadata.get("grounding", [])
    if not groups:
        return None
    unknown = [word for group in groups for word in group["words"] if word not in vocabulary.word_map]
    if unknown:
        raise ArtifactError(f"grounded words {unknown} are not in the captioner's vocabulary; recalibrate it")
    return Grounding(
        tuple(
            GroundedGroup(
                tuple(vocabulary.word_map[word] for word in group["words"]), float(group["threshold"])
            )
            for group in groups
        )
    )


def banned_words(
    model: CaptionModel, features: torch.Tensor, grounding: Grounding | None
) -> torch.Tensor | None:
    """(B, V) mask of grounded words the concept head rejects for each image."""
    if grounding is None or not grounding.groups:
        return None
    probabilities = model.concept_probabilities(features)
    banned = torch.zeros_like(probabilities, dtype=torch.bool)
    for group in grounding.groups:
        ids = torch.tensor(group.token_ids, device=features.device)
        rejected = probabilities[:, ids].amax(dim=1) < group.threshold
        banned[:, ids] = rejected.unsqueeze(1)
    return banned


@torch.no_grad()
def greedy(
    model: CaptionModel,
    images: torch.Tensor,
    start: int,
    end: int,
    max_len: int,
    grounding: Grounding | None = None,
) -> tuple[list[list[int]], list[float]]:
    """Most likely next word at each step: ``(token ids per image, mean token probability)``."""
    features = model.encoder(images)
    banned = banned_words(model, features, grounding)
    hidden, projected = model.decoder.start(features)
    tokens = torch.full((images.size(0),), start, dtype=torch.long, device=images.device)
    finished = torch.zeros_like(tokens, dtype=torch.bool)
    sequences, probabilities = [], []
    for _ in range(max_len - 1):
        logits, hidden = model.decoder.step(tokens, hidden, features, projected)
        if banned is not None:
            logits = logits.float().masked_fill(banned, float("-inf"))
        probability, tokens = torch.softmax(logits.float(), dim=1).max(dim=1)
        sequences.append(tokens)
        probabilities.append(torch.where(finished, torch.zeros_like(probability), probability))
        finished = finished | (tokens == end)
        if bool(finished.all()):
            break
    ids = torch.stack(sequences, dim=1).tolist()
    totals = torch.stack(probabilities, dim=1).sum(dim=1).tolist()
    lengths = [_length_to_end(row, end) for row in ids]
    return (
        [row[:length] for row, length in zip(ids, lengths, strict=True)],
        [total / length for total, length in zip(totals, lengths, strict=True)],
    )


@torch.no_grad()
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
    features = model.encoder(image)
    banned = banned_words(model, features, grounding)
    hidden, projected = model.decoder.start(features)
    beams: list[tuple[list[int], list[float], torch.Tensor]] = [([start], [], hidden[0])]
    done: list[tuple[list[int], list[float]]] = []
    for _ in range(max_len - 1):
        if not beams:
            break
        tokens = torch.tensor([beam[0][-1] for beam in beams], device=image.device)
        states = torch.stack([beam[2] for beam in beams])
        count = len(beams)
        logits, states = model.decoder.step(
            tokens, states, features.expand(count, -1, -1), projected.expand(count, -1, -1)
        )
        if banned is not None:
            logits = logits.float().masked_fill(banned, float("-inf"))
        log_probs = torch.log_softmax(logits.float(), dim=1)
        candidates = []
        for row, (sequence, scores, _) in enumerate(beams):
            top_values, top_ids = log_probs[row].topk(beam_size)
            for value, token in zip(top_values.tolist(), top_ids.tolist(), strict=True):
                candidates.append(([*sequence, token], [*scores, value], states[row]))
        candidates.sort(key=lambda item: sum(item[1]) / len(item[1]), reverse=True)
        beams = []
        for sequence, scores, state in candidates[:beam_size]:
            if sequence[-1] == end:
                done.append((sequence, scores))
            else:
                beams.append((sequence, scores, state))
        if len(done) >= beam_size:
            break
    if not done:  # nothing ended within max_len: fall back to the unfinished beams
        done = [(sequence, scores) for sequence, scores, _ in beams]
    sequence, scores = max(done, key=lambda item: sum(item[1]) / len(item[1]))
    return sequence[1:], float(np.mean(np.exp(scores)))


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
    if beam_size > 1:
        return [
            beam_search(model, image[None], start, end, max_len, beam_size, grounding) for image in images
        ]
    ids, scores = greedy(model, images, start, end, max_len, grounding)
    return list(zip(ids, scores, strict=True))


def _length_to_end(ids: list[int], end: int) -> int:
    """Tokens up to and including the first ``end`` (all of them if it never came)."""
    return ids.index(end) + 1 if end in ids else len(ids)
