"""Checkpoints are ordinary classifier artifacts; ``latest`` also carries the optimizer state.

Optimizer tensors live under :data:`TRAINING_STATE_PREFIX` (ignored by
:class:`perception.core.classifier.Classifier`), their non-tensor settings in the JSON
metadata, so resuming never needs pickle.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from perception.core.artifacts import ArtifactError, load_artifact, save_artifact
from perception.core.classifier import CLASSIFIER_KIND, TRAINING_STATE_PREFIX

_OPTIMIZER = TRAINING_STATE_PREFIX + "optimizer."


def save_checkpoint(
    path: Path, model: nn.Module, metadata: dict[str, Any], optimizer: torch.optim.Optimizer | None = None
) -> Path:
    """Write model weights (+ optimizer state when given) and ``metadata`` as one artifact."""
    tensors = dict(model.state_dict())
    meta = {**metadata, "kind": CLASSIFIER_KIND}
    if optimizer is not None:
        state = optimizer.state_dict()
        for param_id, values in state["state"].items():
            for name, value in values.items():
                if isinstance(value, torch.Tensor):
                    tensors[f"{_OPTIMIZER}{param_id}.{name}"] = value
        meta["training"] = {**meta.get("training", {}), "optimizer_param_groups": state["param_groups"]}
    return save_artifact(path, tensors, meta)


def load_checkpoint(path: Path, model: nn.Module) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Load weights into ``model``; return the optimizer tensors and the metadata."""
    tensors, metadata = load_artifact(path, expected_kind=CLASSIFIER_KIND)
    weights = {k: v for k, v in tensors.items() if not k.startswith(TRAINING_STATE_PREFIX)}
    try:
        model.load_state_dict(weights)
    except RuntimeError as error:
        raise ArtifactError(f"{path} does not fit {type(model).__name__} ({error})") from error
    return {k: v for k, v in tensors.items() if k.startswith(_OPTIMIZER)}, metadata


def restore_optimizer(
    optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], metadata: dict[str, Any], path: Path
) -> None:
    """Put back the optimizer state saved by :func:`save_checkpoint`."""
    groups = metadata.get("training", {}).get("optimizer_param_groups")
    if groups is None:
        raise ArtifactError(f"{path} holds no optimizer state; resume from a run's latest.safetensors")
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        param_id, name = key[len(_OPTIMIZER) :].split(".", 1)
        state.setdefault(int(param_id), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": groups})
