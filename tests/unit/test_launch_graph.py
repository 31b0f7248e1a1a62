"""The bringup graph (what launch/jetson.launch.py starts) and the shipped config files."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import rclpy
import yaml
from rclpy.lifecycle import TransitionCallbackReturn

from perception.bringup.container import ContainerParameters
from perception.bringup.graph import (
    CONTAINER_EXECUTABLE,
    NODE_FACTORIES,
    GraphOptions,
    NodeSpec,
    build_graph,
    container_launch_kwargs,
    container_remaps,
    image_remaps,
    launch_node_kwargs,
    parse_node_list,
    resolve_topic,
    unconnected_inputs,
)

PACKAGE = Path(__file__).resolve().parents[2] / "ros_ws" / "src" / "perception"
# Node parameter files (config/ also holds data files of other nodes, e.g. hazards.yaml).
CONFIGS = [PACKAGE / "config" / "jetson.yaml", PACKAGE / "config" / "desktop.yaml"]
ALL_NODES = sorted(NODE_FACTORIES)
OPTIONS = [
    GraphOptions(),
    GraphOptions(camera_topic="/front/color/image", namespace="robot1/perception", compressed_input=True),
    GraphOptions(namespace=""),
]


def spec_class(spec: NodeSpec) -> type:
    module, name = spec.parameters_spec.split(":")
    return getattr(importlib.import_module(module), name)


def console_scripts() -> set[str]:
    text = (PACKAGE / "setup.py").read_text()
    return set(re.findall(r'"(\w+) = perception\.[\w.]+:main"', text))


@pytest.mark.parametrize("options", OPTIONS, ids=["default", "namespaced-compressed", "root"])
def test_every_subscribed_topic_is_published_or_the_camera(options: GraphOptions) -> None:
    graph = build_graph(ALL_NODES, options)
    assert unconnected_inputs(graph, options) == {}


def test_the_wiring_check_finds_a_topic_nobody_publishes() -> None:
    options = GraphOptions()
    orphan = NodeSpec("glass_node", "glass_node", "m:C", subscribes=("image", "glass_crops"), publishes=())
    graph = [*build_graph(ALL_NODES, options), orphan]
    assert unconnected_inputs(graph, options) == {
        "glass_node": ["/perception/image", "/perception/glass_crops"]
    }
    wired = dataclasses.replace(orphan, remaps=image_remaps(options))
    graph = [*build_graph(ALL_NODES, options), wired]
    assert unconnected_inputs(graph, options) == {"glass_node": ["/perception/glass_crops"]}


def test_node_names_are_unique_and_executables_are_console_scripts() -> None:
    graph = build_graph(ALL_NODES)
    names = [spec.name for spec in graph]
    assert len(names) == len(set(names))
    assert {spec.executable for spec in graph} <= console_scripts()


def test_the_container_is_a_console_script_and_builds_each_nodes_real_class() -> None:
    assert CONTAINER_EXECUTABLE in console_scripts()
    for spec in build_graph(ALL_NODES):
        module, name = spec.node_class.split(":")
        node_class = getattr(importlib.import_module(module), name)
        assert node_class.parameters_spec is spec_class(spec), spec.name


def test_container_kwargs_wire_one_process_as_the_separate_ones() -> None:
    options = GraphOptions(camera_topic="/front/image", compressed_input=True)
    graph = build_graph(ALL_NODES, options)
    kwargs = container_launch_kwargs(graph, options, "/cfg/x.yaml", "/models")
    assert kwargs["executable"] == CONTAINER_EXECUTABLE
    assert "name" not in kwargs, "a __node remap would rename every node of the process"
    assert kwargs["namespace"] == options.namespace
    assert set(kwargs["remappings"]) == {remap for spec in graph for remap in spec.remaps}
    params_file, overrides = kwargs["parameters"]
    assert params_file == "/cfg/x.yaml"
    assert overrides == {"autostart": True, "compressed_input": True, "nodes": ALL_NODES}
    assert kwargs["additional_env"] == {"PERCEPTION_MODELS_DIR": "/models"}


def test_container_refuses_remaps_one_process_cannot_hold() -> None:
    a = NodeSpec("a_node", "a_node", "m:C", (), (), remaps=(("image", "/cam1"),))
    b = NodeSpec("b_node", "b_node", "m:C", (), (), remaps=(("image", "/cam2"),))
    assert container_remaps([a, a]) == [("image", "/cam1")]
    with pytest.raises(ValueError, match="separate processes"):
        container_remaps([a, b])


def test_configs_set_the_containers_parameters() -> None:
    fields = {f.name for f in dataclasses.fields(ContainerParameters)} - {"nodes"}  # nodes: the launch's
    for config in CONFIGS:
        section = yaml.safe_load(config.read_text())["/**/perception_container"]["ros__parameters"]
        assert set(section) == fields, config.name


def test_camera_remaps_and_relative_outputs() -> None:
    options = GraphOptions(camera_topic="/cam/image", namespace="robot")
    (detector,) = build_graph(["detector"], options)
    assert resolve_topic("image", options.namespace, detector.remaps) == "/cam/image"
    assert resolve_topic("image/compressed", options.namespace, detector.remaps) == "/cam/image/compressed"
    assert resolve_topic("detections", options.namespace, detector.remaps) == "/robot/detections"
    assert resolve_topic("/diagnostics", options.namespace) == "/diagnostics"
    assert resolve_topic("markers", "") == "/markers"


def test_node_list_parsing() -> None:
    assert parse_node_list(" detector , ") == ["detector"]
    with pytest.raises(ValueError, match=r"unknown node\(s\) \['radar'\].*subset of \[.*'detector'"):
        parse_node_list("detector,radar")
    with pytest.raises(ValueError, match="comma-separated subset"):
        parse_node_list(" ")


def test_launch_kwargs_put_the_params_file_first_and_launch_choices_after() -> None:
    options = GraphOptions(compressed_input=True)
    (kwargs,) = launch_node_kwargs(
        build_graph(["detector"], options), options, "/cfg/x.yaml", "/models", False
    )
    assert kwargs["parameters"] == ["/cfg/x.yaml", {"autostart": False, "compressed_input": True}]
    assert kwargs["namespace"] == "perception" and kwargs["name"] == "detector_node"
    assert ("image", "/camera/image_raw") in kwargs["remappings"]
    assert kwargs["additional_env"] == {"PERCEPTION_MODELS_DIR": "/models"}
    (no_env,) = launch_node_kwargs(build_graph(["detector"]), GraphOptions(), "/cfg/x.yaml", "")
    assert no_env["additional_env"] == {}


def test_launch_file_builds_nodes_from_the_graph() -> None:
    """launch is not installable here; at least the file must parse and use the tested graph."""
    source = (PACKAGE / "launch" / "jetson.launch.py").read_text()
    tree = ast.parse(source)
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert "generate_launch_description" in functions
    for used in ("build_graph", "launch_node_kwargs", "parse_node_list", "perception.rviz"):
        assert used in source
    arguments = set(re.findall(r'DeclareLaunchArgument\(\s*"(\w+)"', source))
    assert {"params_file", "models_dir", "camera_topic", "use_rviz", "nodes", "namespace"} <= arguments


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_config_lists_every_parameter_of_every_node(config: Path) -> None:
    sections = yaml.safe_load(config.read_text())
    for spec in build_graph(ALL_NODES):
        key = f"/**/{spec.name}"
        assert key in sections, f"{config.name} has no {key} section"
        fields = {f.name for f in dataclasses.fields(spec_class(spec))}
        assert set(sections[key]["ros__parameters"]) == fields, (
            f"{config.name} {key} vs {spec.parameters_spec}"
        )


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_config_values_pass_the_node_validation(config: Path, tmp_path: Path) -> None:
    """Load the real file through --params-file into the node (model replaced by the seam)."""
    from perception.nodes.detector_node import DetectorNode

    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        node = DetectorNode(
            model_factory=lambda params: SimpleNamespace(class_ids=lambda names: list(range(len(names)))),
            context=context,
            namespace="perception",
            cli_args=["--ros-args", "--params-file", str(config)],
        )
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        expected = yaml.safe_load(config.read_text())["/**/detector_node"]["ros__parameters"]
        assert {k: getattr(node.params, k) for k in expected} == {
            k: tuple(v) if isinstance(v, list) else v for k, v in expected.items()
        }
        node.trigger_shutdown()
        node.destroy_node()
    finally:
        rclpy.shutdown(context=context)


def test_rviz_config_shows_the_debug_image_and_markers() -> None:
    rviz = yaml.safe_load((PACKAGE / "rviz" / "perception.rviz").read_text())
    displays = {d["Class"]: d for d in rviz["Visualization Manager"]["Displays"] if d["Enabled"]}
    options = GraphOptions()
    (detector,) = build_graph(["detector"], options)
    assert displays["rviz_default_plugins/Image"]["Topic"]["Value"] == resolve_topic(
        "debug_image", options.namespace
    )
    assert displays["rviz_default_plugins/MarkerArray"]["Topic"]["Value"] == resolve_topic(
        "markers", options.namespace
    )
    assert {"debug_image", "markers"} <= set(detector.publishes)
