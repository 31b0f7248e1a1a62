"""Transfer learning on a classifier from :func:`perception.core.classifier.build_classifier`:
pretrained weights from a local file, and the backbone frozen while the head settles.

The head is the network's last Linear layer (:func:`perception.core.domain.last_linear`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

from perception.core.classifier import ClassifierBuildError
from perception.core.domain import last_linear

LOG = logging.getLogger(__name__)


def freeze_backbone(model: nn.Module) -> None:
    """Train only the classification head: every other parameter stops receiving gradients."""
    head = {id(param) for param in last_linear(model).parameters()}
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
