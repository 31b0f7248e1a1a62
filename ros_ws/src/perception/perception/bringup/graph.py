"""The perception node graph as data: which nodes, their topics, remaps and parameters.

``launch/jetson.launch.py`` turns ``launch_node_kwargs(...)`` into ``launch_ros`` actions;
keeping the graph here lets tests check it (names unique, every subscribed topic published
by some node or the camera) on machines without ``launch``. No rclpy, no model imports:
the launch process stays light.

To add a node: write a ``NodeSpec`` factory and register it in ``NODE_FACTORIES``; add all
its parameters under ``/**/<node name>`` in config/*.yaml (a test checks they match its spec).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

PACKAGE = "perception"
DEFAULT_NAMESPACE = "perception"
DEFAULT_CAMERA_TOPIC = "/camera/image_raw"
DIAGNOSTICS_TOPIC = "/diagnostics"
# Behaviour nodes read captions from one well-known topic, whatever namespace the stack runs in.
CAPTION_TOPIC = "/caption"
MODELS_DIR_ENV = "PERCEPTION_MODELS_DIR"


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
    remaps: tuple[tuple[str, str], ...] = ()
    package: str = PACKAGE
    lifecycle: bool = True
    extra_parameters: dict[str, Any] = field(default_factory=dict)


def image_remaps(options: GraphOptions) -> tuple[tuple[str, str], ...]:
    """The camera wiring every image node shares (raw and image_transport's compressed)."""
    return (("image", options.camera_topic), ("image/compressed", f"{options.camera_topic}/compressed"))


def image_input(options: GraphOptions) -> str:
    return "image/compressed" if options.compressed_input else "image"


def image_node_spec(
    options: GraphOptions,
    node: str,
    parameters_spec: str,
    publishes: tuple[str, ...],
    other_inputs: tuple[str, ...] = (),
    other_remaps: tuple[tuple[str, str], ...] = (),
) -> NodeSpec:
    """A node on the image-node framework: camera input (raw or compressed) wired the same way."""
    return NodeSpec(
        name=f"{node}_node",
        executable=f"{node}_node",
        parameters_spec=parameters_spec,
        subscribes=(image_input(options), *other_inputs),
        publishes=publishes,
        remaps=(*image_remaps(options), *other_remaps),
        extra_parameters={"compressed_input": options.compressed_input},
    )


def detector_spec(options: GraphOptions) -> NodeSpec:
    return image_node_spec(
        options,
        "detector",
        "perception.nodes.detector_node:DetectorParameters",
        publishes=("detections", "markers", "debug_image", DIAGNOSTICS_TOPIC),
    )


def glass_spec(options: GraphOptions) -> NodeSpec:
    return image_node_spec(
        options,
        "glass",
        "perception.nodes.glass_node:GlassParameters",
        publishes=("glasses", "glass_markers", "glass_debug_image", DIAGNOSTICS_TOPIC),
        other_inputs=("detections",),
    )


def caption_spec(options: GraphOptions) -> NodeSpec:
    return image_node_spec(
        options,
        "caption",
        "perception.nodes.caption_node:CaptionParameters",
        publishes=("caption", DIAGNOSTICS_TOPIC),  # and serves caption_image (CaptionImage)
        other_remaps=(("caption", CAPTION_TOPIC),),
    )


def sign_spec(options: GraphOptions) -> NodeSpec:
    return image_node_spec(
        options,
        "sign",
        "perception.nodes.sign_node:SignParameters",
        publishes=("sign", DIAGNOSTICS_TOPIC),
    )


def hazard_spec(options: GraphOptions) -> NodeSpec:
    return NodeSpec(
        name="hazard_node",
        executable="hazard_node",
        parameters_spec="perception.nodes.hazard_node:HazardParameters",
        subscribes=("caption", "detections"),  # detections only while use_detections is true
        publishes=("hazard_alerts",),
        remaps=(("caption", CAPTION_TOPIC),),
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
