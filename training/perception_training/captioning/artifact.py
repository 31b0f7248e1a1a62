"""Writing a trained captioner as our ``captioner`` artifact, which
:func:`perception.core.captioner.model_from_artifact` reads back (no Lightning import, so tests
and tiny_models stay light)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from perception.core.artifacts import code_version, save_artifact
from perception.core.caption_api import CAPTIONER_KIND
from perception.core.caption_model import ARCHITECTURE, CaptionerConfig, CaptionModel
from perception.core.constants import IMAGENET_MEAN, IMAGENET_STD
from perception.core.text.vocabulary import Vocabulary


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
    """Write a ``captioner`` artifact holding everything ``Captioner.load`` needs."""
    metadata = captioner_metadata(model.config, vocabulary, tokenizer, language, image_size, max_len)
    return save_artifact(path, model.state_dict(), {**metadata, **(extra or {})})


def captioner_metadata(
    config: CaptionerConfig,
    vocabulary: Vocabulary,
    tokenizer: str,
    language: str,
    image_size: int,
    max_len: int,
) -> dict[str, Any]:
    """What a ``captioner`` artifact's metadata must hold for ``Captioner.load``."""
    return {
        "kind": CAPTIONER_KIND,
        "architecture": ARCHITECTURE,
        "model_config": asdict(config),
        **vocabulary.to_metadata(),
        "language": language,
        "tokenizer": tokenizer,
        "input_size": [image_size, image_size],
        "normalization": {"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "color": "rgb"},
        "max_len": max_len,
        "code_version": code_version(),
    }
