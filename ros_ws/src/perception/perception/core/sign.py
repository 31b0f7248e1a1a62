"""Sign-language word recognition on a clip of camera frames: the artifact format and inference.

A sign model is a video classifier from :mod:`perception.core.video_models` whose artifact
(kind ``sign``) names its words (Korean, as AIHub labels them), their English glosses and the
clip format it was trained on, so :class:`SignRecognizer` preprocesses exactly as training did.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from perception.core.artifacts import ArtifactError, load_artifact
from perception.core.devices import resolve_device
from perception.core.domain import (
    EARLY_BLOCKS,
    UNSCORED,
    DomainMonitor,
    DomainStatistics,
    DomainVerdict,
    FeatureTap,
    TapPoint,
    last_linear,
    model_tensors,
    style_and_content,
    worst,
)
from perception.core.sign_api import (
    IDLE_CLASS,
    IDLE_GLOSS,
    SIGN_KIND,
    SignPrediction,
    clip_duration,
    confident_word,
    ranking,
)
from perception.core.video_models import (
    VideoModelSpec,
    backbone_blocks,
    build_video_model,
    frames_to_video,
    preprocess_clip,
    sample_indices,
)

__all__ = [  # the torch-free names are re-exported from sign_api, where they live
    "IDLE_CLASS",
    "IDLE_GLOSS",
    "SIGN_KIND",
    "TORCHSCRIPT_METADATA",
    "SignPrediction",
    "SignRecognizer",
    "clip_duration",
    "confident_word",
    "domain_points",
    "load_sign_model",
    "load_sign_statistics",
    "pooled_projection_input",
]

# The artifact metadata rides inside TorchScript exports as this extra file.
TORCHSCRIPT_METADATA = "perception.json"
TORCHSCRIPT_SUFFIXES = (".pt", ".ptl")


def load_sign_model(path: str | Path, device: str = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """``(model in eval mode, metadata)`` from a sign artifact or a TorchScript export of one
    (the artifact's domain statistics, if any, are left out: :func:`load_sign_statistics`).

    TorchScript files are loaded with ``torch.jit.load``, which runs the code stored in them:
    only load exports this project wrote (``perception-train sign --export_mobile_model`` or
    ``--quantize_model``), never a file from an untrusted place. Artifacts never run code.
    """
    path = Path(path)
    if path.suffix in TORCHSCRIPT_SUFFIXES:
        if not path.is_file():
            raise ArtifactError(f"TorchScript sign model {path} does not exist")
        extra = {TORCHSCRIPT_METADATA: ""}
        model = torch.jit.load(str(path), map_location=device, _extra_files=extra)
        if not extra[TORCHSCRIPT_METADATA]:
            raise ArtifactError(
                f"{path} is TorchScript without sign metadata; export it with perception-train sign"
            )
        metadata = json.loads(extra[TORCHSCRIPT_METADATA])
    else:
        tensors, metadata = load_artifact(path, expected_kind=SIGN_KIND, device=device)
        model = build_video_model(metadata["architecture"], len(metadata["classes"]), dropout=0.0)
        model.load_state_dict(model_tensors(tensors))
    return model.to(device).eval(), metadata


def load_sign_statistics(path: str | Path) -> DomainStatistics | None:
    """The domain statistics of a sign artifact; None without them and for TorchScript exports,
    which carry none."""
    if Path(path).suffix in TORCHSCRIPT_SUFFIXES:
        return None
    return DomainStatistics.from_artifact(*load_artifact(path, expected_kind=SIGN_KIND))


def pooled_projection_input(features: torch.Tensor) -> torch.Tensor:
    """(B, C) of the head's projection input, (B, T, H, W, C) in PyTorchVideo's heads, averaged."""
    return features.float().mean(dim=(1, 2, 3))


def domain_points(model: nn.Module) -> list[TapPoint]:
    """Style of the stem and first stages (channel statistics over time and space) and the
    head's projection input, the pooled penultimate features of every clip."""
    early = backbone_blocks(model)[:EARLY_BLOCKS]
    return style_and_content(early, TapPoint(last_linear(model), pooled_projection_input))


class SignRecognizer:
    """Word probabilities for clips of frames; the sign node and ``perception-sign infer`` use it."""

    def __init__(
        self,
        model: nn.Module,
        metadata: dict[str, Any],
        device: str = "cpu",
        statistics: DomainStatistics | None = None,
    ) -> None:
        """With ``statistics`` every clip is scored against the training clips (:meth:`domain_verdict`)."""
        self.model = model
        self.metadata = metadata
        self.device = device
        self.spec = VideoModelSpec.from_dict({**metadata, "name": metadata["architecture"]})
        self.classes: list[str] = list(metadata["classes"])
        self.glosses: list[str] = list(metadata.get("glosses") or self.classes)
        self.clip_duration = clip_duration(metadata)
        # The background class's id; None for a model trained without one.
        self.idle_id: int | None = self.classes.index(IDLE_CLASS) if IDLE_CLASS in self.classes else None
        self._domain = DomainMonitor(statistics, self.domain_tap()) if statistics is not None else None
        self._verdict = UNSCORED

    @classmethod
    def load(cls, path: str | Path, device: str = "auto") -> SignRecognizer:
        """From an artifact (``.safetensors``) or our TorchScript export (``.pt`` / ``.ptl``)."""
        resolved = resolve_device(device)
        model, metadata = load_sign_model(path, resolved)
        return cls(model, metadata, resolved, load_sign_statistics(path))

    def domain_tap(self) -> FeatureTap:
        """A tap at :func:`domain_points` of this recognizer's network."""
        return FeatureTap(domain_points(self.model))

    def domain_verdict(self) -> DomainVerdict:
        """How unlike the training clips the latest clip was (UNSCORED without statistics)."""
        return self._verdict

    def predict(self, frames: Sequence[np.ndarray] | np.ndarray, bgr: bool = True) -> np.ndarray:
        """Softmax over the classes for one clip of HxWx3 uint8 frames (BGR unless ``bgr=False``)."""
        return self.predict_video(frames_to_video(frames, bgr=bgr))

    def predict_video(self, video: torch.Tensor) -> np.ndarray:
        """Softmax over the classes for a ``(T, 3, H, W)`` uint8 RGB clip of any length."""
        picked = video[sample_indices(len(video), self.spec.num_frames)]
        clip = preprocess_clip(picked, self.spec).unsqueeze(0).to(self.device)
        with torch.inference_mode():
            logits = self.model(clip)
        if self._domain is not None:  # scored now: long evaluations must not pile up features
            self._verdict = worst(self._domain.verdicts())
        return logits.float().softmax(dim=1)[0].cpu().numpy()

    def top_k(self, probabilities: np.ndarray, k: int = 3) -> list[SignPrediction]:
        """The ``k`` most likely words, best first."""
        return ranking(probabilities, self.classes, self.glosses, k)
