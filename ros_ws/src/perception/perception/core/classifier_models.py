"""The one factory for image-classification networks, shared by training, nodes and benchmarks.

Every network is built without downloading anything (torchvision ``weights=None``, timm
``pretrained=False``). Loading pretrained weights and freezing the backbone are training's
business (``perception_training.classification.backbone``).
"""

from __future__ import annotations

import torchvision
from torch import nn

_TORCHVISION = {
    "resnet18": torchvision.models.resnet18,
    "resnet34": torchvision.models.resnet34,
    "resnet50": torchvision.models.resnet50,
    "resnet101": torchvision.models.resnet101,
    "resnet152": torchvision.models.resnet152,
    "vgg16": torchvision.models.vgg16,
    "mobilenet_v2": torchvision.models.mobilenet_v2,
    "mobilenet_v3_small": torchvision.models.mobilenet_v3_small,
    "mobilenet_v3_large": torchvision.models.mobilenet_v3_large,
}
# Torchvision networks with a dropout layer before their head (its rate is their `dropout` argument).
_HEAD_DROPOUT = frozenset({"vgg16", "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large"})
# Our short name -> timm model name, and the pixel multiple the input size must respect
# (ViT/DeiT: 16 px patches; Swin: 4 px patches merged three times).
_TIMM = {
    "vit_small": ("vit_small_patch16_224", 16),
    "deit_small": ("deit_small_patch16_224", 16),
    "swin_tiny": ("swin_tiny_patch4_window7_224", 32),
}
ARCHITECTURES: tuple[str, ...] = (*_TORCHVISION, *_TIMM)
MIN_IMAGE_SIZE = 32


class ClassifierBuildError(ValueError):
    """An architecture name, input size or weights file that cannot make a classifier."""


def build_classifier(
    architecture: str,
    num_classes: int,
    image_size: int = 224,
    drop_rate: float | None = None,
    attn_drop_rate: float = 0.0,
    drop_path_rate: float = 0.0,
) -> nn.Module:
    """Return an untrained ``architecture`` with a ``num_classes``-way head for square inputs.

    The regularisers timm's builders take: ``drop_rate`` (dropout before the head; None keeps
    the architecture's own, e.g. 0.2 for MobileNetV2), ``attn_drop_rate`` and ``drop_path_rate``
    (attention dropout and stochastic depth, ViT/DeiT/Swin only). Inference never uses them.
    """
    if num_classes < 1:
        raise ClassifierBuildError(f"num_classes must be >= 1, got {num_classes}")
    if image_size < MIN_IMAGE_SIZE:
        raise ClassifierBuildError(
            f"image_size {image_size} is below the {MIN_IMAGE_SIZE} px every architecture needs"
        )
    if architecture in _TORCHVISION:
        return _build_torchvision(architecture, num_classes, drop_rate, attn_drop_rate, drop_path_rate)
    if architecture in _TIMM:
        rates = {
            "drop_rate": drop_rate or 0.0,
            "attn_drop_rate": attn_drop_rate,
            "drop_path_rate": drop_path_rate,
        }
        return _build_timm(architecture, num_classes, image_size, rates)
    raise ClassifierBuildError(
        f"unknown architecture {architecture!r}; choose one of {', '.join(ARCHITECTURES)}"
    )


def _build_torchvision(
    architecture: str, num_classes: int, drop_rate: float | None, attn_drop_rate: float, drop_path_rate: float
) -> nn.Module:
    builder = _TORCHVISION[architecture]
    if attn_drop_rate or drop_path_rate:
        raise ClassifierBuildError(
            f"{architecture} has no attention or stochastic depth; attn_drop_rate and drop_path_rate "
            f"apply to {', '.join(_TIMM)}"
        )
    options: dict[str, float] = {}
    if drop_rate is not None:
        if architecture not in _HEAD_DROPOUT:
            raise ClassifierBuildError(f"{architecture} has no dropout before its head to set drop_rate on")
        options["dropout"] = drop_rate
    return builder(weights=None, num_classes=num_classes, **options)


def _build_timm(architecture: str, num_classes: int, image_size: int, rates: dict[str, float]) -> nn.Module:
    import timm  # imported lazily: it is slow to import and only these three need it

    timm_name, multiple = _TIMM[architecture]
    if image_size % multiple:
        raise ClassifierBuildError(
            f"{architecture} needs an image_size that is a multiple of {multiple}, got {image_size}"
        )
    extra: dict[str, int] = {}
    if architecture == "swin_tiny":
        # Attention windows must tile the last stage (image_size / 32 cells): 7 at 224 px.
        extra["window_size"] = min(7, image_size // 32)
    return timm.create_model(
        timm_name, pretrained=False, num_classes=num_classes, img_size=image_size, **rates, **extra
    )
