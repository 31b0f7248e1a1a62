"""Resumable training state in one safetensors file: model and Adam tensors + JSON metadata.

Uses the project's artifact format, so resuming never unpickles anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from perception.core.artifacts import load_artifact, save_artifact

_MODEL = "model."
_OPTIMIZER = "optimizer."


def save_checkpoint(
    path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, metadata: dict[str, Any]
) -> Path:
    """Write model weights, optimizer state and ``metadata`` (epoch, history, vocabulary...)."""
    state = optimizer.state_dict()
    tensors = {_MODEL + name: tensor for name, tensor in model.state_dict().items()}
    for param_id, param_state in state["state"].items():
        for key, value in param_state.items():
            tensors[f"{_OPTIMIZER}{param_id}.{key}"] = torch.as_tensor(value)
    meta = {
        "kind": "captioner_checkpoint",
        "architecture": "training_state",
        **metadata,
        "optimizer_param_groups": state["param_groups"],
    }
    return save_artifact(path, tensors, meta)


def load_checkpoint(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any], dict[str, Any]]:
    """``(model state, optimizer state dict, metadata)`` of a checkpoint written above."""
    tensors, metadata = load_artifact(path, expected_kind="captioner_checkpoint")
    model_state = {name[len(_MODEL) :]: value for name, value in tensors.items() if name.startswith(_MODEL)}
    optimizer_state: dict[int, dict[str, torch.Tensor]] = {}
    for name, value in tensors.items():
        if name.startswith(_OPTIMIZER):
            param_id, key = name[len(_OPTIMIZER) :].split(".", 1)
            optimizer_state.setdefault(int(param_id), {})[key] = value
    return (
        model_state,
        {"state": optimizer_state, "param_groups": metadata["optimizer_param_groups"]},
        metadata,
    )
