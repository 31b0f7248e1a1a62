"""The one factory for image-classification networks, shared by training, nodes and benchmarks.

Every network is built without downloading anything (torchvision ``weights=None``, timm
``pretrained=False``); pretrained weights, when wanted, come from a local file through
:func:`load_pretrained_backbone`. Transfer learning freezes everything but the classification
head (:func:`freeze_backbone`) and later thaws it (:func:`unfreeze`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
import torchvision
from torch import nn

LOG = logging.getLogger(__name__)

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


def classification_head(model: nn.Module) -> nn.Linear:
    """The final Linear layer that maps features to class scores (replaced in transfer learning)."""
    linears = [module for module in model.modules() if isinstance(module, nn.Linear)]
    if not linears:
        raise ClassifierBuildError(f"{type(model).__name__} has no Linear classification head")
    return linears[-1]


def freeze_backbone(model: nn.Module) -> None:
    """Train only the classification head: every other parameter stops receiving gradients."""
    head = {id(param) for param in classification_head(model).parameters()}
    for param in model.parameters():
        param.requires_grad_(id(param) in head)


def unfreeze(model: nn.Module) -> None:
    """Make every parameter trainable again (fine-tuning after the head has settled)."""
    for param in model.parameters():
        param.requires_grad_(True)


def load_pretrained_backbone(model: nn.Module, path: str | Path) -> list[str]:
    """Copy matching weights from a local file into ``model``; return the keys left as they were.

    Accepts a safetensors file (our artifacts included) or a plain torch state dict (loaded
    with ``weights_only=True``, optionally wrapped in ``state_dict``/``model``). Tensors whose
    shape differs, typically a head trained for other classes, are skipped on purpose.
    """
    path = Path(path)
    state = _read_state_dict(path)
    own = model.state_dict()
    usable = {key: value for key, value in state.items() if key in own and own[key].shape == value.shape}
    if not usable:
        raise ClassifierBuildError(
            f"{path} shares no tensor names/shapes with {type(model).__name__}; "
            "it holds weights for another architecture"
        )
    model.load_state_dict(usable, strict=False)
    kept = sorted(set(own) - set(usable))
    LOG.info("loaded %d tensors from %s; %d left untouched: %s", len(usable), path, len(kept), kept[:8])
    return kept


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise ClassifierBuildError(f"pretrained weights file {path} does not exist; check the path")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # any parser failure means the same thing to the caller
        raise ClassifierBuildError(
            f"cannot read pretrained weights {path} ({error}); give a safetensors file or a "
            "torch state dict saved with torch.save(model.state_dict())"
        ) from error
    for wrapper in ("state_dict", "model"):
        if isinstance(loaded, dict) and isinstance(loaded.get(wrapper), dict):
            loaded = loaded[wrapper]
    if not isinstance(loaded, dict) or not all(isinstance(v, torch.Tensor) for v in loaded.values()):
        raise ClassifierBuildError(f"{path} is not a state dict of tensors")
    return loaded
