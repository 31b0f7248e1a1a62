"""Initialise caption word embeddings from a local GloVe file (e.g. glove.6B.300d.txt)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from perception.core.text.vocabulary import SPECIAL_TOKENS

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class GloveInit:
    """Embedding matrix plus how much of the vocabulary GloVe covered."""

    weights: torch.Tensor
    found: int
    total: int

    @property
    def coverage(self) -> float:
        return self.found / self.total if self.total else 0.0


def load_glove(path: str | Path, word_map: dict[str, int], dim: int = 300, seed: int = 0) -> GloveInit:
    """Read GloVe's text format (``word v1 ... vdim`` per line) for the words in ``word_map``.

    Words GloVe lacks (and the special tokens) keep a small random initialisation, the usual
    choice, so training can still learn them.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"GloVe file {path} does not exist; download glove.6B.zip and pass its .txt file"
        )
    generator = torch.Generator().manual_seed(seed)
    weights = torch.randn(len(word_map), dim, generator=generator) * 0.1
    wanted = {word: index for word, index in word_map.items() if word not in SPECIAL_TOKENS}
    found = 0
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            word, _, rest = line.rstrip().partition(" ")
            if word not in wanted:
                continue
            values = rest.split(" ")
            if len(values) != dim:
                raise ValueError(
                    f"{path}:{number}: {word!r} has {len(values)} values, expected {dim}; wrong --embed-dim?"
                )
            weights[wanted.pop(word)] = torch.tensor([float(value) for value in values])
            found += 1
    total = found + len(wanted)
    result = GloveInit(weights, found, total)
    LOG.info(
        "GloVe %s covers %d of %d vocabulary words (%.1f%%)", path.name, found, total, 100 * result.coverage
    )
    return result
