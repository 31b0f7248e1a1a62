"""The one table of video classifiers (PyTorchVideo), and the clip preprocessing they share.

Training, inference (``perception.core.sign``) and benchmarks build networks only through
:func:`build_video_model`, always untrained (``pretrained=False``: nothing is downloaded), with
an ``N``-way head returning logits. The head's average pool is made adaptive, which is the same
operation at the model's own clip size and lets a model run on smaller clips (CPU-sized
training, tests). MViT keeps fixed position embeddings and accepts only its own clip size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torchvision.transforms.v2 import functional as F

from perception.core.video_clips import (
    KINETICS_MEAN,
    KINETICS_STD,
    VideoModelError,
    VideoModelSpec,
    downscale,
    sample_indices,
)

__all__ = [  # the clip format and sampling are re-exported from video_clips, which is torch-free
    "KINETICS_MEAN",
    "KINETICS_STD",
    "SPECS",
    "VIDEO_MODELS",
    "VideoModelError",
    "VideoModelSpec",
    "backbone_blocks",
    "build_video_model",
    "downscale",
    "frames_to_video",
    "normalise",
    "preprocess_clip",
    "resize_and_crop",
    "sample_indices",
    "video_spec",
]

SPECS: dict[str, VideoModelSpec] = {
    spec.name: spec
    for spec in (
        VideoModelSpec("slow_r50", num_frames=8, crop_size=224, sampling_rate=8),
        VideoModelSpec("x3d_xs", num_frames=4, crop_size=160, sampling_rate=12),
        VideoModelSpec("x3d_s", num_frames=13, crop_size=160, sampling_rate=6),
        VideoModelSpec("x3d_m", num_frames=16, crop_size=224, sampling_rate=5),
        VideoModelSpec("mvit_base_16x4", num_frames=16, crop_size=224, sampling_rate=4, fixed_size=True),
        VideoModelSpec("efficient_x3d_xs", num_frames=4, crop_size=160, sampling_rate=12),
        VideoModelSpec("efficient_x3d_s", num_frames=13, crop_size=160, sampling_rate=6),
    )
}
VIDEO_MODELS: tuple[str, ...] = tuple(SPECS)


def _resnet_style(builder_name: str, **extra: Any) -> Callable[[int, float], nn.Module]:
    """slow_r50 / x3d_*: hub builder, the head's fixed AvgPool3d made adaptive, Swish as SiLU."""

    def build(num_classes: int, dropout: float) -> nn.Module:
        from pytorchvideo.models import hub

        model = getattr(hub, builder_name)(
            pretrained=False, model_num_class=num_classes, dropout_rate=dropout, **extra
        )
        head = model.blocks[-1]
        owner = head.pool if hasattr(head.pool, "pre_conv") else head  # X3D: ProjectedPool
        owner.pool = nn.AdaptiveAvgPool3d(1)
        _swish_to_silu(model)
        return model

    return build


def _swish_to_silu(model: nn.Module) -> None:
    """Swap X3D's Swish (a Python autograd Function TorchScript cannot save) for nn.SiLU.

    Both compute x * sigmoid(x) and hold no weights.
    """
    from pytorchvideo.layers.swish import Swish

    for parent in list(model.modules()):
        for child_name, child in parent.named_children():
            if isinstance(child, Swish):
                setattr(parent, child_name, nn.SiLU())


def _mvit(num_classes: int, dropout: float) -> nn.Module:
    from pytorchvideo.models import hub

    return hub.mvit_base_16x4(pretrained=False, head_num_classes=num_classes, head_dropout_rate=dropout)


def _efficient_x3d(builder_name: str) -> Callable[[int, float], nn.Module]:
    """Mobile-CPU X3D: its head pool is already adaptive and its eval head returns logits."""

    def build(num_classes: int, dropout: float) -> nn.Module:
        from pytorchvideo.models import hub

        return getattr(hub, builder_name)(pretrained=False, num_classes=num_classes, dropout=dropout)

    return build


_BUILDERS: dict[str, Callable[[int, float], nn.Module]] = {
    "slow_r50": _resnet_style("slow_r50"),
    # X3D's default head applies a softmax; the trainer's loss wants logits.
    "x3d_xs": _resnet_style("x3d_xs", head_activation=None),
    "x3d_s": _resnet_style("x3d_s", head_activation=None),
    "x3d_m": _resnet_style("x3d_m", head_activation=None),
    "mvit_base_16x4": _mvit,
    "efficient_x3d_xs": _efficient_x3d("efficient_x3d_xs"),
    "efficient_x3d_s": _efficient_x3d("efficient_x3d_s"),
}


def video_spec(name: str) -> VideoModelSpec:
    """The table entry of ``name``; VideoModelError lists the choices."""
    if name not in SPECS:
        raise VideoModelError(f"unknown video model {name!r}; choose one of {', '.join(VIDEO_MODELS)}")
    return SPECS[name]


def build_video_model(name: str, num_classes: int, dropout: float = 0.5) -> nn.Module:
    """An untrained ``name`` whose forward maps ``(B, 3, T, H, W)`` to ``(B, num_classes)`` logits."""
    video_spec(name)
    if num_classes < 1:
        raise VideoModelError(f"num_classes must be >= 1, got {num_classes}")
    if not 0.0 <= dropout < 1.0:
        raise VideoModelError(f"dropout must lie in [0, 1), got {dropout}")
    try:
        return _BUILDERS[name](num_classes, dropout)
    except ModuleNotFoundError as error:
        raise VideoModelError(
            f"building {name} needs {error.name}, which is not installed: the sign models come from "
            "PyTorchVideo; install it with `pip install pytorchvideo -c requirements/constraints.txt` "
            "(robot images: docs/environment.md)"
        ) from error


def backbone_blocks(model: nn.Module) -> list[nn.Module]:
    """The stem and residual stages of a ResNet-style net (slow_r50, x3d_*), input side first,
    whose feature maps describe a clip's look (its domain features, ``perception.core.sign``).
    VideoModelError for the others: their layers are not a stem, stages and a head."""
    from pytorchvideo.models.head import ResNetBasicHead

    blocks = getattr(model, "blocks", None)
    if not isinstance(blocks, nn.ModuleList) or not isinstance(blocks[-1], ResNetBasicHead):
        raise VideoModelError(
            f"{type(model).__name__} is not a ResNet-style video net (slow_r50, x3d_*): "
            "it has no stem and stages to take domain features from"
        )
    return list(blocks[:-1])


def frames_to_video(
    frames: Sequence[np.ndarray] | np.ndarray | torch.Tensor, bgr: bool = False
) -> torch.Tensor:
    """HxWx3 uint8 frames (RGB, or BGR as ROS images come) -> a ``(T, 3, H, W)`` uint8 tensor."""
    array = frames if isinstance(frames, torch.Tensor) else torch.from_numpy(np.stack(list(frames)))
    if array.ndim != 4 or array.shape[-1] != 3 or array.dtype != torch.uint8:
        raise VideoModelError(
            f"expected uint8 frames of shape (H, W, 3), got {tuple(array.shape[1:])} {array.dtype}"
        )
    if bgr:
        array = array.flip(-1)
    return array.permute(0, 3, 1, 2).contiguous()


def resize_and_crop(video: torch.Tensor, crop_size: int) -> torch.Tensor:
    """Resize a ``(T, 3, H, W)`` clip so its short side is ``crop_size``, then centre-crop a square."""
    video = F.resize(video, [crop_size], antialias=True)
    return F.center_crop(video, [crop_size, crop_size])


def normalise(video: torch.Tensor, spec: VideoModelSpec) -> torch.Tensor:
    """uint8 ``(T, 3, H, W)`` -> float ``(3, T, H, W)`` scaled to [0, 1] and normalised."""
    scaled = F.to_dtype(video, torch.float32, scale=True)
    return F.normalize(scaled, list(spec.mean), list(spec.std)).permute(1, 0, 2, 3).contiguous()


def preprocess_clip(video: torch.Tensor, spec: VideoModelSpec) -> torch.Tensor:
    """The evaluation transform: sampled uint8 ``(T, 3, H, W)`` frames -> the model's ``(3, T, S, S)``."""
    return normalise(resize_and_crop(video, spec.crop_size), spec)
