"""The metadata a trained sign model's artifact carries, which :mod:`perception.core.sign` reads
back (its ``SignRecognizer`` preprocesses clips by it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from perception.core.sign_api import SIGN_KIND
from perception.core.video_models import VideoModelSpec


def sign_metadata(
    spec: VideoModelSpec, classes: Sequence[str], glosses: Sequence[str], clip_duration: float
) -> dict[str, Any]:
    """The metadata every sign model carries: architecture, words, glosses and clip format."""
    clip_format = {key: value for key, value in spec.to_dict().items() if key != "name"}
    return {
        "kind": SIGN_KIND,
        "architecture": spec.name,
        "classes": list(classes),
        "glosses": list(glosses),
        "clip_duration": clip_duration,
        **clip_format,
    }
