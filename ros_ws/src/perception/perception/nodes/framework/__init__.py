"""Machinery shared by every perception node; see docs/nodes.md for the guide."""

from perception.nodes.framework.image_node import Frame, ImageModelNode, ImageNodeParameters
from perception.nodes.framework.latest_frame import LatestFrameWorker, WorkerCounters
from perception.nodes.framework.managed_node import ManagedNode
from perception.nodes.framework.parameters import ParameterError, declare_parameters, param, read_parameters
from perception.nodes.framework.runner import run_node

__all__ = [
    "Frame",
    "ImageModelNode",
    "ImageNodeParameters",
    "LatestFrameWorker",
    "ManagedNode",
    "ParameterError",
    "WorkerCounters",
    "declare_parameters",
    "param",
    "read_parameters",
    "run_node",
]
