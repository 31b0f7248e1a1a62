"""ONNX Runtime as a model node's backend, chosen by the model file: a ``model_path`` ending in
``.onnx`` runs on ONNX Runtime with the node's ``execution_provider`` and ``cpu_threads``, and the
node never imports torch (docs/onnx.md: the memory that saves). Any other file runs on torch at
``device``, as before."""

from __future__ import annotations

from dataclasses import dataclass

from perception.core.onnx_session import CPU, EXECUTION_PROVIDERS, ONNX_SUFFIX, SessionOptions
from perception.nodes.framework.parameters import param


@dataclass(frozen=True)
class OnnxParameters:
    """The parameters of a node that can run its model on ONNX Runtime."""

    execution_provider: str = param(
        CPU,
        "ONNX Runtime provider for an .onnx model_path (ignored for other files): "
        "CPUExecutionProvider, CUDAExecutionProvider or TensorrtExecutionProvider (Jetson; the GPU "
        "ones need onnxruntime-gpu and fall back to the CPU for operators they lack)",
        choices=EXECUTION_PROVIDERS,
    )


def runs_onnx(params: object) -> bool:
    """Whether the node's model runs on ONNX Runtime: its parameters allow it and name an .onnx."""
    model_path = str(getattr(params, "model_path", ""))
    return isinstance(params, OnnxParameters) and model_path.lower().endswith(ONNX_SUFFIX)


def session_options(params: OnnxParameters, threads: int, half: bool = False) -> SessionOptions:
    """The session of a node's ONNX model: its provider, ``threads`` CPU threads (0 = ONNX
    Runtime's default), FP16 where TensorRT builds the engine."""
    return SessionOptions(params.execution_provider, threads, half)
