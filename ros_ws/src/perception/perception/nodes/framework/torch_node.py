"""Base for image nodes that run a model on torch (or, for an ``.onnx`` model_path, ONNX Runtime:
``onnx_backend``): where the model runs and how many CPU threads it may use.

torch starts one intra-op thread per core in every process; three model nodes on a 6-core
Jetson then run 18 threads that preempt each other (on a busy 2-core machine one thread was
5-8x faster than two). ``cpu_threads`` gives each node its share (in the single-process
container the process sets them once instead: ``torch_threads``). Not re-exported by the
framework package; torch itself is imported only when its threads are set, so nodes without
a model (hazard) and nodes on ONNX Runtime do not import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from perception.nodes.framework.image_node import ImageModelNode, ImageNodeParameters
from perception.nodes.framework.managed_node import ModelT, ParamsT
from perception.nodes.framework.onnx_backend import runs_onnx
from perception.nodes.framework.parameters import DEVICE_PATTERN, param
from perception.nodes.framework.torch_threads import apply_node_threads


@dataclass(frozen=True)
class TorchNodeParameters(ImageNodeParameters):
    """Parameters every torch model node has, on top of the image node's."""

    device: str = param(
        "auto", "where the model runs: auto, cpu, cuda, cuda:N or mps", pattern=DEVICE_PATTERN
    )
    cpu_threads: int = param(
        0,
        "CPU threads of the model: torch's in this process (0 = torch's default, one per core), or "
        "the ONNX Runtime session's for an .onnx model (0 = one per core); with several model nodes "
        "on one machine, give each a share of the cores",
        min_value=0,
        max_value=256,
    )


class TorchModelNode(ImageModelNode[ParamsT, ModelT]):
    """Image node whose model is a torch module; applies ``cpu_threads`` before loading it (an
    ONNX Runtime model gets them in its session instead, and torch stays unloaded)."""

    parameters_spec: ClassVar[type[TorchNodeParameters]] = TorchNodeParameters

    def prepare(self, params: ParamsT) -> None:
        if runs_onnx(params):
            return
        if not apply_node_threads(params.cpu_threads):
            self.get_logger().info(
                f"cpu_threads={params.cpu_threads} not applied: this process's nodes share torch_threads"
            )
