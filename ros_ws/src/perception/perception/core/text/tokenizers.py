"""Language tokenizers: captions are trained on and scored per word (English) or per morpheme
(Korean, where whitespace-separated units glue nouns to particles: "칼이" is "칼" + "이")."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Protocol

_ENGLISH_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
# Kiwi tags starting with S are symbols; numbers, Latin and Hanja words carry content, the rest
# (punctuation, brackets) does not.
_KEPT_SYMBOL_TAGS = frozenset({"SN", "SL", "SH"})


class Tokenizer(Protocol):
    """Split caption text into tokens and join tokens back into readable text."""

    name: str

    def tokenize(self, text: str) -> list[str]: ...

    def detokenize(self, tokens: list[str]) -> str: ...


class EnglishTokenizer:
    """Lower-case words and numbers; punctuation is dropped (it carries no caption content)."""

    name = "english"

    def tokenize(self, text: str) -> list[str]:
        return _ENGLISH_WORD.findall(text.lower())

    def detokenize(self, tokens: list[str]) -> str:
        return " ".join(tokens)


class KoreanTokenizer:
    """Morphemes from Kiwi (kiwipiepy; its model ships in the kiwipiepy_model wheel, no download).

    Tokens are ``form/TAG`` so that detokenizing can hand Kiwi the tags it needs to glue
    particles and endings back onto their stems (``칼/NNG 이/JKS`` -> ``칼이``).
    """

    name = "korean"

    def tokenize(self, text: str) -> list[str]:
        return [
            f"{token.form}/{token.tag}"
            for token in _kiwi().tokenize(text)
            if not token.tag.startswith("S") or token.tag in _KEPT_SYMBOL_TAGS
        ]

    def detokenize(self, tokens: list[str]) -> str:
        pairs = [tuple(token.rsplit("/", 1)) for token in tokens if "/" in token]
        return _kiwi().join(pairs) if pairs else ""

    @staticmethod
    def forms(text: str) -> list[str]:
        """Bare morpheme forms (no tags), for matching hazard words."""
        return [token.form for token in _kiwi().tokenize(text)]


@lru_cache(maxsize=1)
def _kiwi():
    """One Kiwi instance per process: building it loads a ~100 MB model."""
    from kiwipiepy import Kiwi

    return Kiwi()


_TOKENIZERS = {"english": EnglishTokenizer, "korean": KoreanTokenizer}
_LANGUAGE_TOKENIZER = {"en": "english", "ko": "korean"}


def get_tokenizer(name: str) -> Tokenizer:
    """``english`` / ``korean`` (or the language codes ``en`` / ``ko``)."""
    key = _LANGUAGE_TOKENIZER.get(name, name)
    if key not in _TOKENIZERS:
        raise ValueError(f"unknown tokenizer {name!r}; use one of {sorted(_TOKENIZERS)} (or en / ko)")
    return _TOKENIZERS[key]()
