"""The captioning network: MobileNetV3-Small encoder + attention GRU decoder + concept head.

The one definition of the captioning model: ``perception_training.captioning`` trains it and
the caption node runs it through :class:`perception.core.captioner.Captioner`. Small enough
for a Jetson or a CPU; the attention over the encoder's spatial grid lets the decoder look at
the object it is naming, which is what captions about colours, counts and left/right
relations need. Decoding lives in :mod:`perception.core.caption_decoding`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torchvision.models import mobilenet_v3_small

from perception.core.caption_decoding import beam_search, greedy

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
            ids, _ = beam_search(self, batch[:1], start, end, max_len, beam_size)
        else:
            ids = greedy(self, batch[:1], start, end, max_len)[0][0]
        specials = {word_map[token] for token in ("<start>", "<end>", "<pad>")}
        return " ".join(rev_word_map[int(index)] for index in ids if index not in specials)


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
