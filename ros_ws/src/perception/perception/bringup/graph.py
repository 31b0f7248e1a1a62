"""The perception node graph as data: which nodes, their topics, remaps and parameters.

``launch/jetson.launch.py`` turns ``launch_node_kwargs(...)`` into ``launch_ros`` actions;
keeping the graph here lets tests check it (names unique, every subscribed topic published
by some node or the camera) on machines without ``launch``. No rclpy, no model imports:
the launch process stays light.

Each node's topics are declared once, in ``perception.nodes.topics``; the specs here read them
from there (tests/nodes/test_graph_topics.py compares them with each running node's real
publishers and subscriptions).

To add a node: declare its topics in ``perception.nodes.topics``, write a ``NodeSpec`` factory
and register it in ``NODE_FACTORIES``; add all its parameters under ``/**/<node name>`` in
config/*.yaml (a test checks they match its spec).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from perception.core.constants import MODELS_DIR_ENV
from perception.nodes import topics
from perception.nodes.topics import CAPTION_TOPIC, NodeTopics

PACKAGE = "perception"
DEFAULT_NAMESPACE = "perception"
DEFAULT_CAMERA_TOPIC = "/camera/image_raw"
CONTAINER_EXECUTABLE = "perception_container"  # every node in one process: bringup/container.py


@dataclass(frozen=True)
class GraphOptions:
    """Launch arguments that shape the graph."""

    camera_topic: str = DEFAULT_CAMERA_TOPIC
    namespace: str = DEFAULT_NAMESPACE
    compressed_input: bool = False


@dataclass(frozen=True)
class NodeSpec:
    """One node to start; topic names are as the node uses them (relative unless absolute)."""

    name: str
    executable: str
    parameters_spec: str  # "module:Class" of the node's parameter dataclass (checked by tests)
    subscribes: tuple[str, ...]
    publishes: tuple[str, ...]
    optional: tuple[str, ...] = ()  # of the above, those a parameter switches on or off
    remaps: tuple[tuple[str, str], ...] = ()
    package: str = PACKAGE
    lifecycle: bool = True
    extra_parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def node_class(self) -> str:
        """``module:Class`` of the node (``glass_node`` -> ``GlassNode``, beside its parameters),
        which the single-process container builds."""
        module = self.parameters_spec.split(":")[0]
        return f"{module}:{''.join(part.capitalize() for part in self.name.split('_'))}"


def image_remaps(options: GraphOptions) -> tuple[tuple[str, str], ...]:
    """The camera wiring every image node shares (raw and image_transport's compressed)."""
    return (
        (topics.IMAGE, options.camera_topic),
        (topics.IMAGE_COMPRESSED, options.camera_topic + topics.COMPRESSED_SUFFIX),
    )


def image_input(options: GraphOptions) -> str:
    return topics.IMAGE_COMPRESSED if options.compressed_input else topics.IMAGE


def node_spec(
    options: GraphOptions,
    node: str,
    parameters_spec: str,
    declared: NodeTopics,
    other_remaps: tuple[tuple[str, str], ...] = (),
) -> NodeSpec:
    """A node with the topics ``perception.nodes.topics`` declares for it; a node on the
    image-node framework gets the camera input (raw or compressed) wired the same way."""
    camera = declared.image_input
    return NodeSpec(
        name=f"{node}_node",
        executable=f"{node}_node",
        parameters_spec=parameters_spec,
        subscribes=(image_input(options), *declared.subscribes) if camera else declared.subscribes,
        publishes=declared.publishes,
        optional=declared.optional,
        remaps=(*(image_remaps(options) if camera else ()), *other_remaps),
        extra_parameters={"compressed_input": options.compressed_input} if camera else {},
    )


def detector_spec(options: GraphOptions) -> NodeSpec:
    return node_spec(
        options, "detector", "perception.nodes.detector_node:DetectorParameters", topics.DETECTOR
    )


def glass_spec(options: GraphOptions) -> NodeSpec:
    return node_spec(options, "glass", "perception.nodes.glass_node:GlassParameters", topics.GLASS)


def caption_spec(options: GraphOptions) -> NodeSpec:
    return node_spec(
        options,
        "caption",
        "perception.nodes.caption_node:CaptionParameters",
        topics.CAPTION_NODE,
        other_remaps=((topics.CAPTION, CAPTION_TOPIC),),
    )


def sign_spec(options: GraphOptions) -> NodeSpec:
    return node_spec(options, "sign", "perception.nodes.sign_node:SignParameters", topics.SIGN_NODE)


def hazard_spec(options: GraphOptions) -> NodeSpec:
    return node_spec(
        options,
        "hazard",
        "perception.nodes.hazard_node:HazardParameters",
        topics.HAZARD,
        other_remaps=((topics.CAPTION, CAPTION_TOPIC),),
    )


NODE_FACTORIES: dict[str, Callable[[GraphOptions], NodeSpec]] = {
    "detector": detector_spec,
    "caption": caption_spec,
    "hazard": hazard_spec,
    "glass": glass_spec,
    "sign": sign_spec,
}


def parse_node_list(text: str) -> list[str]:
    """``"detector, glass"`` -> ["detector", "glass"]; unknown names raise with the known ones."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [n for n in names if n not in NODE_FACTORIES]
    if unknown or not names:
        raise ValueError(
            f"unknown node(s) {unknown} in {text!r}; "
            f"choose a comma-separated subset of {sorted(NODE_FACTORIES)}"
        )
    return names


def build_graph(names: Iterable[str], options: GraphOptions = GraphOptions()) -> list[NodeSpec]:
    return [NODE_FACTORIES[name](options) for name in names]


def output_topic(graph: Sequence[NodeSpec], topic: str, namespace: str) -> str:
    """Fully qualified name of an output ``topic`` as the graph node publishing it resolves it."""
    for spec in graph:
        if topic in spec.publishes:
            return resolve_topic(topic, namespace, spec.remaps)
    return resolve_topic(topic, namespace)


def resolve_topic(topic: str, namespace: str, remaps: Sequence[tuple[str, str]] = ()) -> str:
    """Fully qualified topic after remapping, as rcl resolves it (relative -> under namespace)."""
    for source, target in remaps:
        if source == topic:
            topic = target
            break
    if topic.startswith("/"):
        return topic
    prefix = "/" + namespace.strip("/") if namespace.strip("/") else ""
    return f"{prefix}/{topic}"


def unconnected_inputs(graph: Sequence[NodeSpec], options: GraphOptions) -> dict[str, list[str]]:
    """Per node, subscribed topics no node publishes and that are not the camera (should be empty)."""
    published = {resolve_topic(t, options.namespace, s.remaps) for s in graph for t in s.publishes}
    sources = published | {options.camera_topic, f"{options.camera_topic}/compressed"}
    missing = {}
    for spec in graph:
        topics = [resolve_topic(t, options.namespace, spec.remaps) for t in spec.subscribes]
        if unresolved := [t for t in topics if t not in sources]:
            missing[spec.name] = unresolved
    return missing


def launch_node_kwargs(
    graph: Sequence[NodeSpec],
    options: GraphOptions,
    params_file: str,
    models_dir: str,
    autostart: bool = True,
) -> list[dict[str, Any]]:
    """Keyword arguments for ``launch_ros.actions.LifecycleNode``/``Node``, one dict per node."""
    return [
        {
            "package": spec.package,
            "executable": spec.executable,
            "name": spec.name,
            "namespace": options.namespace,
            "parameters": [params_file, {"autostart": autostart, **spec.extra_parameters}],
            "remappings": list(spec.remaps),
            "additional_env": {MODELS_DIR_ENV: models_dir} if models_dir else {},
            "output": "screen",
        }
        for spec in graph
    ]


def container_remaps(graph: Sequence[NodeSpec]) -> list[tuple[str, str]]:
    """The nodes' remaps as one process's (global) remaps; they must not disagree."""
    remaps: dict[str, str] = {}
    for spec in graph:
        for source, target in spec.remaps:
            if remaps.setdefault(source, target) != target:
                raise ValueError(
                    f"{spec.name} remaps {source!r} to {target!r} but another node to {remaps[source]!r}; "
                    "one process has one set of remaps: run these nodes as separate processes"
                )
    return list(remaps.items())


def container_launch_kwargs(
    graph: Sequence[NodeSpec],
    options: GraphOptions,
    params_file: str,
    models_dir: str,
    autostart: bool = True,
) -> dict[str, Any]:
    """Keyword arguments for ``launch_ros.actions.Node`` running every node of ``graph`` in one
    process. No ``name``: a ``__node`` remap would rename every node of the process."""
    extra: dict[str, Any] = {}
    for spec in graph:
        extra.update(spec.extra_parameters)
    nodes = [spec.name.removesuffix("_node") for spec in graph]
    return {
        "package": PACKAGE,
        "executable": CONTAINER_EXECUTABLE,
        "namespace": options.namespace,
        "parameters": [params_file, {"autostart": autostart, **extra, "nodes": nodes}],
        "remappings": container_remaps(graph),
        "additional_env": {MODELS_DIR_ENV: models_dir} if models_dir else {},
        "output": "screen",
    }
