"""Every perception node in one process, on one executor: rclpy's answer to composition.

``ros2 launch perception jetson.launch.py single_process:=true`` runs this instead of one
process per node (``perception_container --ros-args --params-file ... -p nodes:=[...]``).
Why: each model node process held about 1 GiB (importing torch alone about 650 MiB) and every
camera frame was deserialised and decoded once per image node. Here torch, the libraries and
the DDS participant exist once, the camera is subscribed once and each frame decoded at most
once (``SharedCamera``, ``SharedImage``), and the detector's results reach the glass and hazard
nodes as the same message object (``LocalBus``) while still being published for everyone else.

What stays as it was: every node is its own lifecycle node with its own services and
parameters (``ros2 lifecycle set /perception/glass_node deactivate`` acts on that node alone),
its own latest-frame worker, rate limit and counters, and its own callback group (callbacks of
one node never run concurrently). Failure isolation: a failed configure leaves only that node
unconfigured; an exception in a worker is counted by the worker; an exception in a callback is
logged and the executor spins on (``run_nodes(isolate_callbacks=True)``); a node whose
construction fails is logged and left out. torch's threads are set once for the process
(``torch_threads``, see ``framework/torch_threads.py``); the nodes' ``cpu_threads`` are then not
applied. A crash of the interpreter itself (a segfault in a native library) still ends every node.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass

from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node

from perception.bringup.graph import NODE_FACTORIES, GraphOptions, build_graph, parse_node_list
from perception.nodes.framework.in_process import InProcess, LocalBus, SharedCamera
from perception.nodes.framework.managed_node import ManagedNode
from perception.nodes.framework.parameters import declare_parameters, param, read_parameters
from perception.nodes.framework.runner import run_nodes

CONTAINER_NODE = "perception_container"
# One executor thread per node plus one: the caption node's CaptionImage service runs a model in
# its own callback group and must not hold up the others' callbacks.
EXECUTOR_THREADS = 7


@dataclass(frozen=True)
class ContainerParameters:
    """The container's own parameters (section ``/**/perception_container`` of config/*.yaml)."""

    nodes: tuple[str, ...] = param(
        tuple(NODE_FACTORIES),
        "nodes to run in this process (names as in the launch argument `nodes`)",
        read_only=True,
    )
    torch_threads: int = param(
        0,
        "torch's CPU threads for the whole process, set once before any model loads (0 = torch's "
        "default, one per core); each model node's worker uses up to this many",
        min_value=0,
        max_value=256,
        read_only=True,
    )


def build_nodes() -> list[Node]:
    """The container's own node (it owns the camera subscriptions) then each graph node."""
    owner = Node(CONTAINER_NODE)
    if rejected := declare_parameters(owner, ContainerParameters):
        raise next(iter(rejected.values()))
    params = read_parameters(owner, ContainerParameters)
    options = GraphOptions(namespace=owner.get_namespace())
    graph = build_graph(parse_node_list(",".join(params.nodes)), options)
    if any(spec.name != "hazard_node" for spec in graph):
        from perception.nodes.framework.torch_threads import fix_process_threads  # imports torch

        fix_process_threads(params.torch_threads)
    local_topics = {owner.resolve_topic_name(topic) for spec in graph for topic in spec.publishes}
    in_process = InProcess(SharedCamera(owner), LocalBus(local_topics))
    nodes: list[Node] = [owner]
    for spec in graph:
        try:
            nodes.append(_node_class(spec.node_class)(in_process=in_process))
        except Exception as error:  # one broken node must not keep the others from starting
            owner.get_logger().error(f"{spec.name} could not be created and is left out: {error}")
    names = ", ".join(node.get_name() for node in nodes[1:])
    owner.get_logger().info(f"running {names} in one process; torch_threads={params.torch_threads}")
    return nodes


def _node_class(path: str) -> type[ManagedNode]:
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


def main(args: Sequence[str] | None = None) -> None:
    run_nodes(build_nodes, args, lambda: MultiThreadedExecutor(num_threads=EXECUTOR_THREADS), True)


if __name__ == "__main__":
    main()
