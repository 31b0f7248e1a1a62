"""Writing a trained ultralytics DetectionModel as our ``detector`` artifact, which
:func:`perception.core.detector.model_from_artifact` reads back."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from perception.core.artifacts import save_artifact
from perception.core.detector import KIND


def save_detector(path: str | Path, model: torch.nn.Module, metadata: Mapping[str, Any]) -> Path:
    """Write an ultralytics DetectionModel as our ``detector`` artifact.

    ``metadata`` must give ``architecture`` and ``input_size``; classes come from the model.
    """
    classes = [model.names[i] for i in range(len(model.names))]
    meta = {
        "kind": KIND,
        "classes": classes,
        "model_yaml": _plain(model.yaml),
        **metadata,
    }
    state = {
        name: tensor.float() if tensor.is_floating_point() else tensor
        for name, tensor in model.state_dict().items()
    }
    return save_artifact(path, state, meta)


def _plain(value: Any) -> Any:
    """JSON-safe copy of ultralytics' model yaml (tuples -> lists)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
