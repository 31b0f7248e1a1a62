"""Token <-> index maps for the caption decoder, built from training captions."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

PAD, START, END, UNK = "<pad>", "<start>", "<end>", "<unk>"
SPECIAL_TOKENS = (PAD, START, END, UNK)


@dataclass
class Vocabulary:
    """``word_map`` (token -> index) and ``rev_word_map`` (index -> token); specials come first.

    Index 0 is ``<pad>`` so padded positions can be ignored by the loss with ``ignore_index=0``.
    """

    word_map: dict[str, int]
    rev_word_map: dict[int, str] = field(init=False)

    def __post_init__(self) -> None:
        missing = [token for token in SPECIAL_TOKENS if token not in self.word_map]
        if missing:
            raise ValueError(
                f"vocabulary lacks the special tokens {missing}; rebuild it with Vocabulary.build"
            )
        self.rev_word_map = {index: word for word, index in self.word_map.items()}
        if len(self.rev_word_map) != len(self.word_map):
            raise ValueError("vocabulary word_map maps two words to one index; the artifact is corrupt")

    @classmethod
    def build(cls, token_lists: Iterable[list[str]], min_freq: int = 2) -> Vocabulary:
        """Keep tokens seen at least ``min_freq`` times (rarer ones become ``<unk>``)."""
        if min_freq < 1:
            raise ValueError(f"min_freq must be >= 1, got {min_freq}")
        counts = Counter(token for tokens in token_lists for token in tokens)
        kept = sorted(
            word for word, count in counts.items() if count >= min_freq and word not in SPECIAL_TOKENS
        )
        return cls({word: index for index, word in enumerate((*SPECIAL_TOKENS, *kept))})

    @classmethod
    def from_metadata(cls, metadata: dict[str, Any]) -> Vocabulary:
        """Rebuild from an artifact's ``word_map`` (JSON keeps it as token -> index)."""
        return cls({str(word): int(index) for word, index in metadata["word_map"].items()})

    def to_metadata(self) -> dict[str, Any]:
        """``word_map``, ``rev_word_map`` (JSON object keys are strings) and ``vocab_size``."""
        return {
            "word_map": dict(self.word_map),
            "rev_word_map": {str(index): word for index, word in self.rev_word_map.items()},
            "vocab_size": len(self),
        }

    def __len__(self) -> int:
        return len(self.word_map)

    @property
    def pad(self) -> int:
        return self.word_map[PAD]

    @property
    def start(self) -> int:
        return self.word_map[START]

    @property
    def end(self) -> int:
        return self.word_map[END]

    @property
    def unk(self) -> int:
        return self.word_map[UNK]

    def encode(self, tokens: list[str], max_len: int = 50) -> list[int]:
        """``<start> tokens... <end>``, cut so the whole sequence is at most ``max_len`` long."""
        if max_len < 2:
            raise ValueError(f"max_len must leave room for <start> and <end>, got {max_len}")
        body = [self.word_map.get(token, self.unk) for token in tokens[: max_len - 2]]
        return [self.start, *body, self.end]

    def decode(self, indices: Iterable[int]) -> list[str]:
        """Tokens up to the first ``<end>``, without ``<start>``/``<pad>``."""
        tokens = []
        for index in indices:
            if index == self.end:
                break
            if index in (self.start, self.pad):
                continue
            tokens.append(self.rev_word_map.get(int(index), UNK))
        return tokens
