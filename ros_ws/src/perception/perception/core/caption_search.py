"""Caption decoding as a search over a network's steps, kept free of torch: greedy and beam search,
with grounded words, for the torch captioner and its ONNX Runtime twin alike.

The network is reached through :class:`EncodedImages` (a batch of images through the encoder, one
decoder step at a time), so every decoding rule (grounded words, stopping, scores) reads in one
place whichever runtime computes the steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import numpy as np

from perception.core.model_files import ArtifactError
from perception.core.text.vocabulary import Vocabulary

State = TypeVar("State")


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


class EncodedImages(Protocol[State]):
    """A batch of images through a captioner's encoder, decoded one step at a time; ``State`` is the
    runtime's array of decoder states (one row per sequence being decoded)."""

    def __len__(self) -> int: ...

    def concept_probabilities(self) -> np.ndarray:
        """(B, V) probability that each word belongs in a caption of each image."""
        ...

    def start(self, image: int | None) -> State:
        """Initial states: one per image of the batch (None), or of image ``image`` alone."""
        ...

    def step(self, tokens: np.ndarray, states: State, image: int | None) -> tuple[np.ndarray, State]:
        """Float32 logits (N, V) of the word after ``tokens`` (N,) and the next states; row i continues
        image i of the batch (None) or every row image ``image``."""
        ...

    def select(self, states: State, rows: list[int]) -> State:
        """The states of ``rows``, in that order."""
        ...


def banned_words(probabilities: np.ndarray, grounding: Grounding | None) -> np.ndarray | None:
    """(B, V) mask of grounded words the concept head (``probabilities``, (B, V)) rejects per image."""
    if grounding is None or not grounding.groups:
        return None
    banned = np.zeros(probabilities.shape, dtype=bool)
    for group in grounding.groups:
        ids = list(group.token_ids)
        banned[:, ids] = (probabilities[:, ids].max(axis=1) < group.threshold)[:, None]
    return banned


def greedy(
    encoded: EncodedImages[Any], start: int, end: int, max_len: int, grounding: Grounding | None = None
) -> tuple[list[list[int]], list[float]]:
    """Most likely next word at each step: ``(token ids per image, mean token probability)``."""
    banned = banned_words(encoded.concept_probabilities(), grounding)
    states = encoded.start(None)
    tokens = np.full(len(encoded), start, np.int64)
    finished = np.zeros(len(encoded), dtype=bool)
    sequences, probabilities = [], []
    for _ in range(max_len - 1):
        logits, states = encoded.step(tokens, states, None)
        distribution = _softmax(_masked(logits, banned))
        tokens, probability = distribution.argmax(axis=1), distribution.max(axis=1)
        sequences.append(tokens)
        probabilities.append(np.where(finished, np.float32(0.0), probability))
        finished = finished | (tokens == end)
        if finished.all():
            break
    ids = np.stack(sequences, axis=1).tolist()
    totals = np.stack(probabilities, axis=1).sum(axis=1).tolist()
    lengths = [_length_to_end(row, end) for row in ids]
    return (
        [row[:length] for row, length in zip(ids, lengths, strict=True)],
        [total / length for total, length in zip(totals, lengths, strict=True)],
    )


def beam_search(
    encoded: EncodedImages[Any],
    image: int,
    start: int,
    end: int,
    max_len: int,
    beam_size: int = 3,
    grounding: Grounding | None = None,
) -> tuple[list[int], float]:
    """Best sequence of image ``image`` of the batch by length-normalised log-probability."""
    banned = banned_words(encoded.concept_probabilities()[image : image + 1], grounding)
    states = encoded.start(image)
    beams: list[tuple[list[int], list[float]]] = [([start], [])]
    done: list[tuple[list[int], list[float]]] = []
    for _ in range(max_len - 1):
        if not beams:
            break
        tokens = np.array([sequence[-1] for sequence, _ in beams], np.int64)
        logits, states = encoded.step(tokens, states, image)
        log_probs = _log_softmax(_masked(logits, banned))
        candidates = []
        for row, (sequence, scores) in enumerate(beams):
            for token in np.argsort(-log_probs[row], kind="stable")[:beam_size].tolist():
                candidates.append(([*sequence, token], [*scores, float(log_probs[row, token])], row))
        candidates.sort(key=lambda item: sum(item[1]) / len(item[1]), reverse=True)
        beams, rows = [], []
        for sequence, scores, row in candidates[:beam_size]:
            if sequence[-1] == end:
                done.append((sequence, scores))
            else:
                beams.append((sequence, scores))
                rows.append(row)
        states = encoded.select(states, rows)
        if len(done) >= beam_size:
            break
    if not done:  # nothing ended within max_len: fall back to the unfinished beams
        done = beams
    sequence, scores = max(done, key=lambda item: sum(item[1]) / len(item[1]))
    return sequence[1:], float(np.mean(np.exp(scores)))


def decode(
    encoded: EncodedImages[Any],
    start: int,
    end: int,
    max_len: int,
    beam_size: int = 1,
    grounding: Grounding | None = None,
) -> list[tuple[list[int], float]]:
    """``(token ids, score)`` per image: greedy over the batch, or beam search image by image."""
    if beam_size > 1:
        return [
            beam_search(encoded, image, start, end, max_len, beam_size, grounding)
            for image in range(len(encoded))
        ]
    ids, scores = greedy(encoded, start, end, max_len, grounding)
    return list(zip(ids, scores, strict=True))


def _masked(logits: np.ndarray, banned: np.ndarray | None) -> np.ndarray:
    return logits if banned is None else np.where(banned, np.float32(-np.inf), logits)


def _softmax(logits: np.ndarray) -> np.ndarray:
    exponentials = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exponentials / exponentials.sum(axis=1, keepdims=True)


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def _length_to_end(ids: list[int], end: int) -> int:
    """Tokens up to and including the first ``end`` (all of them if it never came)."""
    return ids.index(end) + 1 if end in ids else len(ids)
