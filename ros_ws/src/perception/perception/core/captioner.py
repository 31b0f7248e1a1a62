"""Lightweight image captioner: MobileNetV3-Small encoder + attention GRU decoder.

The one definition of the captioning model: ``perception_training.captioning`` trains it and
the caption node runs it through :class:`Captioner`. Small enough for a Jetson or a CPU; the
attention over the encoder's spatial grid lets the decoder look at the object it is naming,
which is what captions about colours, counts and left/right relations need.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn
from torchvision.models import mobilenet_v3_small

from perception.core.artifacts import ArtifactError, code_version, load_artifact, save_artifact
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

ARCHITECTURE = "mnv3_small_gru_attention"
ENCODER_CHANNELS = 576  # MobileNetV3-Small's last feature map


@dataclass(frozen=True)
class CaptionerConfig:
    """Sizes that define the network; stored in the artifact so loading rebuilds the same one."""

    vocab_size: int
    embed_dim: int = 300
    hidden_dim: int = 512
    attention_dim: int = 256
    dropout: float = 0.3


class CaptionEncoder(nn.Module):
    """MobileNetV3-Small features as a grid of ``ENCODER_CHANNELS``-d vectors (B, H*W, C)."""

    def __init__(self, weights_file: str | Path | None = None) -> None:
        super().__init__()
        self.features = mobilenet_v3_small(weights=None).features
        if weights_file is not None:
            self.features.load_state_dict(_backbone_state(Path(weights_file)))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.features(images).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    """Additive (Bahdanau) attention of the decoder state over the encoder grid."""

    def __init__(self, encoder_dim: int, hidden_dim: int, attention_dim: int) -> None:
        super().__init__()
        self.encoder_proj = nn.Linear(encoder_dim, attention_dim)
        self.hidden_proj = nn.Linear(hidden_dim, attention_dim)
        self.score = nn.Linear(attention_dim, 1)

    def forward(self, projected: torch.Tensor, features: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        energy = torch.tanh(projected + self.hidden_proj(hidden).unsqueeze(1))
        weights = torch.softmax(self.score(energy).squeeze(2), dim=1)
        return (weights.unsqueeze(2) * features).sum(dim=1)


class CaptionDecoder(nn.Module):
    """GRU decoder: each step reads the previous word and an attended image context."""

    def __init__(self, config: CaptionerConfig) -> None:
        super().__init__()
        self.embedding = nn.Embedding(config.vocab_size, config.embed_dim, padding_idx=0)
        self.attention = Attention(ENCODER_CHANNELS, config.hidden_dim, config.attention_dim)
        self.init_hidden = nn.Linear(ENCODER_CHANNELS, config.hidden_dim)
        self.gru = nn.GRUCell(config.embed_dim + ENCODER_CHANNELS, config.hidden_dim)
        self.dropout = nn.Dropout(config.dropout)
        self.output = nn.Linear(config.hidden_dim, config.vocab_size)

    def start(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Initial hidden state and the attention projection reused at every step."""
        return torch.tanh(self.init_hidden(features.mean(dim=1))), self.attention.encoder_proj(features)

    def step(
        self, tokens: torch.Tensor, hidden: torch.Tensor, features: torch.Tensor, projected: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One decoding step: ``(logits over the vocabulary, new hidden state)``."""
        context = self.attention(projected, features, hidden)
        hidden = self.gru(torch.cat([self.embedding(tokens), context], dim=1), hidden)
        return self.output(self.dropout(hidden)), hidden


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


class CaptionModel(nn.Module):
    """Encoder + decoder; ``forward`` is teacher-forced training, ``generate`` is inference."""

    def __init__(self, config: CaptionerConfig, encoder_weights: str | Path | None = None) -> None:
        super().__init__()
        self.config = config
        self.encoder = CaptionEncoder(encoder_weights)
        self.decoder = CaptionDecoder(config)
        # Bag-of-words head: which words the image's captions contain, from pooled features. Only
        # training uses it (an auxiliary loss): it hands a from-scratch encoder a direct signal
        # about objects and colours instead of one filtered through the language model.
        self.concepts = nn.Linear(ENCODER_CHANNELS, config.vocab_size)

    def set_encoder_trainable(self, trainable: bool) -> None:
        """Freeze (random or pretrained) encoder weights early in training, fine-tune later."""
        for parameter in self.encoder.parameters():
            parameter.requires_grad_(trainable)

    def forward(self, images: torch.Tensor, captions: torch.Tensor) -> torch.Tensor:
        """Logits (B, T-1, V) predicting ``captions[:, 1:]`` from ``captions[:, :-1]``."""
        return self.forward_with_concepts(images, captions)[0]

    def forward_with_concepts(
        self, images: torch.Tensor, captions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Word logits (B, T-1, V) and bag-of-words logits (B, V) from one encoder pass."""
        features = self.encoder(images)
        hidden, projected = self.decoder.start(features)
        logits = []
        for position in range(captions.size(1) - 1):
            step_logits, hidden = self.decoder.step(captions[:, position], hidden, features, projected)
            logits.append(step_logits)
        return torch.stack(logits, dim=1), self.concept_logits(features)

    def concept_logits(self, features: torch.Tensor) -> torch.Tensor:
        """(B, V) bag-of-words logits from the encoder grid (B, H*W, C), pooled over the grid."""
        return self.concepts(features.mean(dim=1))

    def concept_probabilities(self, features: torch.Tensor) -> torch.Tensor:
        """(B, V) probability that each word belongs in a caption of the image, from encoder features."""
        return torch.sigmoid(self.concept_logits(features).float())

    def _banned(self, features: torch.Tensor, grounding: Grounding | None) -> torch.Tensor | None:
        """(B, V) mask of grounded words the concept head rejects for each image."""
        if grounding is None or not grounding.groups:
            return None
        probabilities = self.concept_probabilities(features)
        banned = torch.zeros_like(probabilities, dtype=torch.bool)
        for group in grounding.groups:
            ids = torch.tensor(group.token_ids, device=features.device)
            rejected = probabilities[:, ids].amax(dim=1) < group.threshold
            banned[:, ids] = rejected.unsqueeze(1)
        return banned

    @torch.no_grad()
    def greedy(
        self, images: torch.Tensor, start: int, end: int, max_len: int, grounding: Grounding | None = None
    ) -> tuple[list[list[int]], list[float]]:
        """Most likely next word at each step: ``(token ids per image, mean token probability)``."""
        features = self.encoder(images)
        banned = self._banned(features, grounding)
        hidden, projected = self.decoder.start(features)
        tokens = torch.full((images.size(0),), start, dtype=torch.long, device=images.device)
        finished = torch.zeros_like(tokens, dtype=torch.bool)
        sequences, probabilities = [], []
        for _ in range(max_len - 1):
            logits, hidden = self.decoder.step(tokens, hidden, features, projected)
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
        self,
        image: torch.Tensor,
        start: int,
        end: int,
        max_len: int,
        beam_size: int = 3,
        grounding: Grounding | None = None,
    ) -> tuple[list[int], float]:
        """Best sequence of one image (1, C, H, W) by length-normalised log-probability."""
        features = self.encoder(image)
        banned = self._banned(features, grounding)
        hidden, projected = self.decoder.start(features)
        beams: list[tuple[list[int], list[float], torch.Tensor]] = [([start], [], hidden[0])]
        done: list[tuple[list[int], list[float]]] = []
        for _ in range(max_len - 1):
            if not beams:
                break
            tokens = torch.tensor([beam[0][-1] for beam in beams], device=image.device)
            states = torch.stack([beam[2] for beam in beams])
            count = len(beams)
            logits, states = self.decoder.step(
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

    def generate(
        self,
        image: torch.Tensor,
        word_map: dict[str, int],
        rev_word_map: dict[int, str],
        max_len: int = 50,
        beam_size: int = 1,
    ) -> str:
        """Caption of one preprocessed image (C, H, W) or (1, C, H, W) as space-joined tokens."""
        batch = image.unsqueeze(0) if image.dim() == 3 else image
        start, end = word_map["<start>"], word_map["<end>"]
        if beam_size > 1:
            ids, _ = self.beam_search(batch[:1], start, end, max_len, beam_size)
        else:
            ids = self.greedy(batch[:1], start, end, max_len)[0][0]
        specials = {word_map[token] for token in ("<start>", "<end>", "<pad>")}
        return " ".join(rev_word_map[int(index)] for index in ids if index not in specials)


def _length_to_end(ids: list[int], end: int) -> int:
    """Tokens up to and including the first ``end`` (all of them if it never came)."""
    return ids.index(end) + 1 if end in ids else len(ids)


def _backbone_state(path: Path) -> dict[str, torch.Tensor]:
    """Features of a torchvision MobileNetV3-Small checkpoint (.pth state dict or .safetensors)."""
    if not path.is_file():
        raise FileNotFoundError(
            f"encoder weights {path} do not exist; pass a torchvision mobilenet_v3_small file"
        )
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path))
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
    prefix = "features."
    features = {key[len(prefix) :]: value for key, value in state.items() if key.startswith(prefix)}
    if not features:
        raise ValueError(f"{path} holds no 'features.*' tensors; it is not a mobilenet_v3_small state dict")
    return features


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
    metadata = {
        "kind": "captioner",
        "architecture": ARCHITECTURE,
        "model_config": asdict(model.config),
        **vocabulary.to_metadata(),
        "language": language,
        "tokenizer": tokenizer,
        "input_size": [image_size, image_size],
        "normalization": {"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "color": "rgb"},
        "max_len": max_len,
        "code_version": code_version(),
        **(extra or {}),
    }
    return save_artifact(path, model.state_dict(), metadata)


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
    where the concept head agrees; see :class:`Grounding`.
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
            if self.beam_size > 1:
                decoded = [
                    self.model.beam_search(
                        image[None], start, end, self.max_len, self.beam_size, self.grounding
                    )
                    for image in batch
                ]
            else:
                ids, scores = self.model.greedy(batch, start, end, self.max_len, self.grounding)
                decoded = list(zip(ids, scores, strict=True))
        return [(self.tokenizer.detokenize(self.vocabulary.decode(ids)), score) for ids, score in decoded]
