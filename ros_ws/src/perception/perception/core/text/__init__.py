"""Caption text: captions.txt readers, language tokenizers, vocabulary and word embeddings."""

from perception.core.text.captions_file import CaptionFileError, CaptionRecord, detect_format, read_captions
from perception.core.text.tokenizers import Tokenizer, get_tokenizer
from perception.core.text.vocabulary import SPECIAL_TOKENS, Vocabulary

__all__ = [
    "SPECIAL_TOKENS",
    "CaptionFileError",
    "CaptionRecord",
    "Tokenizer",
    "Vocabulary",
    "detect_format",
    "get_tokenizer",
    "read_captions",
]
