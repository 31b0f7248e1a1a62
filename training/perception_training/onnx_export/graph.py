"""The network plus its domain score as one traceable module, written as ONNX with our metadata.

The torch models score a frame with a :class:`~perception.core.domain.FeatureTap`: forward hooks
keep pooled features of the pass that made the outputs, and the artifact's statistics turn them
into a Mahalanobis distance. :class:`ScoredNetwork` traces the same tap into the graph and adds
the distance after it, so ONNX Runtime returns the outputs and the score of one pass, with no
torch and no second pass. The distance is ``|L^T (f - mean)|`` with ``L`` the Cholesky factor of
the precision matrix (computed once here in float64): a sum of squares, so float32 keeps it to
about 1e-7 relative, where the ``(f - mean)^T P (f - mean)`` form loses digits to cancellation.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from perception.core.artifacts import ArtifactError, sha256_of, utc_now
from perception.core.domain import DomainStatistics, FeatureTap, TapPoint
from perception.core.onnx_session import DOMAIN_OUTPUT, METADATA_KEY, part_path

OPSET = 17  # ONNX Runtime 1.16+ and TensorRT 8.6+ (JetPack 6) run it
INPUT = "input"


Outputs = torch.Tensor | tuple[torch.Tensor, ...]


def identity(outputs: Outputs) -> Outputs:
    return outputs


def softmax(logits: torch.Tensor) -> torch.Tensor:
    return logits.float().softmax(dim=1)


@dataclass
class Exportable:
    """A network ready to trace: its domain tap points, example inputs, what its outputs are, and the
    further graphs written beside it (``parts``, as ``A.<part>.onnx``: the captioner's decoder step)."""

    network: nn.Module
    points: Sequence[TapPoint]
    statistics: DomainStatistics | None
    example: torch.Tensor | tuple[torch.Tensor, ...]  # one per name of ``inputs``
    outputs: Sequence[str]  # names of the network's (head-applied) outputs
    metadata: Mapping[str, Any]
    head: Callable[[Outputs], Outputs] = identity
    dynamic_axes: Mapping[str, Mapping[int, str]] = field(default_factory=dict)
    inputs: Sequence[str] = (INPUT,)
    parts: Mapping[str, Exportable] = field(default_factory=dict)

    @property
    def examples(self) -> tuple[torch.Tensor, ...]:
        return self.example if isinstance(self.example, tuple) else (self.example,)


class ScoredNetwork(nn.Module):
    """``head(network(x))`` and, with statistics, each input's domain score from the same pass."""

    def __init__(self, spec: Exportable) -> None:
        super().__init__()
        self.network = spec.network.eval()
        self.head = spec.head
        self.tap = FeatureTap(spec.points) if spec.statistics is not None else None
        if spec.statistics is not None:
            factor = _cholesky(spec.statistics.precision)
            self.register_buffer("mean", torch.from_numpy(spec.statistics.mean.astype(np.float32)))
            self.register_buffer("factor", torch.from_numpy(factor.astype(np.float32)))
            self.threshold = float(spec.statistics.threshold)

    def forward(self, *inputs: torch.Tensor) -> Outputs:
        outputs = self.head(self.network(*inputs))
        if self.tap is None:
            return outputs
        features = self.tap.take_tensor()
        whitened = (features - self.mean) @ self.factor
        score = whitened.square().sum(dim=1).sqrt() / self.threshold
        return (*outputs, score) if isinstance(outputs, tuple) else (outputs, score)

    def close(self) -> None:
        if self.tap is not None:
            self.tap.remove()


def _cholesky(precision: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.cholesky(np.asarray(precision, np.float64))
    except np.linalg.LinAlgError as error:
        raise ArtifactError(
            f"the artifact's domain precision matrix is not positive definite ({error}); rerun "
            "`perception-train ood-calibrate` on it"
        ) from error


def write_onnx(
    spec: Exportable, artifact: Path, out: Path, part: str | None = None
) -> tuple[Path, dict[str, float]]:
    """Trace ``spec`` to ``out`` with the artifact's metadata, and its parts beside it; return the path
    and the largest difference of each output (of every graph) between ONNX Runtime and torch on the
    example inputs."""
    import onnx

    module = ScoredNetwork(spec).eval()
    outputs = [*spec.outputs] + ([DOMAIN_OUTPUT] if module.tap is not None else [])
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with torch.inference_mode():
            expected = module(*spec.examples)
        with warnings.catch_warnings():
            # Expected while tracing: the legacy exporter's notice, and constants in the pooling.
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            torch.onnx.export(
                module,
                spec.examples,
                str(out),
                opset_version=OPSET,
                input_names=list(spec.inputs),
                output_names=outputs,
                dynamic_axes={name: dict(axes) for name, axes in spec.dynamic_axes.items()},
                dynamo=False,
            )
    finally:
        module.close()
    model = onnx.load(str(out))
    exported = {
        "source": artifact.name,
        "source_sha256": sha256_of(artifact),
        "exported": utc_now(),
        "opset": OPSET,
        "outputs": outputs,
        **({"part": part} if part is not None else {}),
    }
    onnx.helper.set_model_props(model, {METADATA_KEY: json.dumps({**spec.metadata, "onnx": exported})})
    onnx.save(model, str(out))
    expected = expected if isinstance(expected, tuple) else (expected,)
    feeds = dict(zip(spec.inputs, spec.examples, strict=True))
    differences = _differences(out, feeds, dict(zip(outputs, expected, strict=True)))
    for name, part_spec in spec.parts.items():
        differences.update(write_onnx(part_spec, artifact, part_path(out, name), name)[1])
    return out, differences


def _differences(
    path: Path, feeds: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor]
) -> dict[str, float]:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    actual = session.run(list(expected), {name: value.numpy() for name, value in feeds.items()})
    return {
        name: float(np.abs(value - want.numpy()).max())
        for (name, want), value in zip(expected.items(), actual, strict=True)
    }
