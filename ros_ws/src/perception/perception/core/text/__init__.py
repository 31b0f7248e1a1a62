"""Caption text the captioner needs at inference: language tokenizers and the vocabulary."""

from perception.core.text.tokenizers import Tokenizer, get_tokenizer
from perception.core.text.vocabulary import SPECIAL_TOKENS, Vocabulary

__all__ = ["SPECIAL_TOKENS", "Tokenizer", "Vocabulary", "get_tokenizer"]
