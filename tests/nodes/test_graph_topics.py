"""The graph description (``perception.bringup.graph``, what the launch files start) names the
topics each node really uses.

Each node of ``NODE_FACTORIES`` starts in-process (a stand-in model through the
``model_factory`` seam; the hazard node loads its shipped rules) with the namespace and remaps
the launch file gives it, is configured and activated, and its publishers and subscriptions as
the ROS graph reports them (``get_publisher_names_and_types_by_node``,
``get_subscriber_names_and_types_by_node``) must be exactly the graph's, resolved: all of them
with every optional topic switched on, and none of the optional ones with them switched off.
"""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import pytest
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter
from torch import nn

from perception.bringup.graph import NODE_FACTORIES, GraphOptions, NodeSpec, resolve_topic
from perception.core.classifier import Classifier, Preprocessing
from perception.core.glass import GlassClassifier
from perception.nodes.caption_node import CaptionNode, LoadedCaptioner
from perception.nodes.detector_node import DetectorNode
from perception.nodes.framework import vision_msgs_interop
from perception.nodes.glass_node import GlassNode
from perception.nodes.hazard_node import HazardNode
from perception.nodes.sign_node import LoadedSign, SignNode
from perception.nodes.topics import DETECTIONS, DETECTIONS_2D

SUCCESS = TransitionCallbackReturn.SUCCESS
# What rclpy itself gives every node: not part of the graph description.
INFRASTRUCTURE = {"/rosout", "/parameter_events"}
# Each test's node gets a name of its own: the graph of a new context may still list a node of
# the same name from the previous test (DDS forgets a closed participant late), and the
# by-node queries would answer for that one. No topic of the graph depends on the node's name.
RUN = itertools.count()


def detector(params):
    return SimpleNamespace(imgsz=64, model_id="stand-in", class_ids=lambda classes: [])


def glass(params):
    classes = ["cup", "beer_glass", "soju_glass"]
    return GlassClassifier(Classifier(nn.Flatten(), classes, Preprocessing(8), "cpu"))


def caption(params):
    return LoadedCaptioner(SimpleNamespace(image_size=64, caption=lambda bgr: ("", 0.0)), "stand-in", "en")


def sign(params):
    return LoadedSign(SimpleNamespace(classes=["idle", "left"]), "stand-in", 10.0, 0.4, 24)


NODES = {
    "detector": (DetectorNode, detector, {"vision_msgs_output": True}, {"vision_msgs_output": False}),
    "glass": (GlassNode, glass, {}, {}),
    "caption": (CaptionNode, caption, {}, {}),
    "sign": (SignNode, sign, {}, {}),
    "hazard": (HazardNode, None, {"use_detections": True}, {"use_detections": False}),
}
OPTIONS = [
    GraphOptions(),
    GraphOptions(camera_topic="/front/color", namespace="robot1/perception", compressed_input=True),
]


def test_every_graph_node_is_covered() -> None:
    assert set(NODES) == set(NODE_FACTORIES)


def unavailable(topic: str) -> bool:
    """An optional topic the environment cannot offer even when it is switched on."""
    return topic == DETECTIONS_2D and not vision_msgs_interop.available()


def start(ros, name: str, spec: NodeSpec, options: GraphOptions, optional_on: bool):
    node_class, factory, on, off = NODES[name]
    params = {**spec.extra_parameters, **(on if optional_on else off)}
    kwargs = {"model_factory": factory} if factory else {}
    node = ros.add(
        node_class(
            f"{spec.name}_{next(RUN)}",
            context=ros.context,
            namespace=options.namespace,
            parameter_overrides=[Parameter(k, value=v) for k, v in params.items()],
            cli_args=["--ros-args", *(arg for a, b in spec.remaps for arg in ("-r", f"{a}:={b}"))],
            **kwargs,
        )
    )
    assert node.trigger_configure() == SUCCESS
    assert node.trigger_activate() == SUCCESS
    return node


def graph_topics(ros, node) -> tuple[set[str], set[str]]:
    """(published, subscribed) topic names of ``node`` as the ROS graph reports them."""
    name, namespace = node.get_name(), node.get_namespace()
    private = f"{namespace.rstrip('/')}/{name}/"

    def names(listed) -> set[str]:
        return {n for n, _ in listed if n not in INFRASTRUCTURE and not n.startswith(private)}

    return (
        names(ros.io.get_publisher_names_and_types_by_node(name, namespace)),
        names(ros.io.get_subscriber_names_and_types_by_node(name, namespace)),
    )


@pytest.mark.parametrize("optional_on", [True, False], ids=["optional-on", "optional-off"])
@pytest.mark.parametrize("options", OPTIONS, ids=["default", "namespaced-compressed"])
@pytest.mark.parametrize("name", sorted(NODES))
def test_graph_topics_are_the_nodes_real_ones(
    ros, name: str, options: GraphOptions, optional_on: bool
) -> None:
    spec = NODE_FACTORIES[name](options)

    def expected(declared: tuple[str, ...]) -> set[str]:
        kept = [t for t in declared if t not in spec.optional or (optional_on and not unavailable(t))]
        return {resolve_topic(t, options.namespace, spec.remaps) for t in kept}

    want = (expected(spec.publishes), expected(spec.subscribes))
    node = start(ros, name, spec, options, optional_on)
    assert ros.wait_for(lambda: graph_topics(ros, node) == want, timeout=10.0), (
        f"{spec.name}: graph says (publishes, subscribes) {want}, "
        f"the running node has {graph_topics(ros, node)}"
    )


def test_optional_topics_are_the_ones_a_parameter_switches() -> None:
    specs = {name: factory(GraphOptions()) for name, factory in NODE_FACTORIES.items()}
    assert specs["detector"].optional == (DETECTIONS_2D,) and DETECTIONS_2D in specs["detector"].publishes
    assert specs["hazard"].optional == (DETECTIONS,) and DETECTIONS in specs["hazard"].subscribes
    assert all(not spec.optional for name, spec in specs.items() if name not in {"detector", "hazard"})
