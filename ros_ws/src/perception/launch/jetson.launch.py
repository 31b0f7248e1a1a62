"""Bring up the perception nodes on a robot: `ros2 launch perception jetson.launch.py`.

Arguments: params_file (default config/jetson.yaml), models_dir ($PERCEPTION_MODELS_DIR),
camera_topic, namespace, nodes (comma-separated, default all five), compressed (subscribe
<camera_topic>/compressed), autostart (nodes configure+activate themselves; false to leave
them to a lifecycle manager), use_rviz, single_process (every node in one process:
perception.bringup.container; docs/single-process.md). The graph itself lives in
perception.bringup.graph.
Bad arguments (an unknown node name, use_rviz:=true without rviz2 installed, as on a headless
ros-base Jetson) fail before any process starts, so nothing is left running.

Fast DDS gets config/fastdds_large_images.xml (a 16 MiB shared-memory segment; the default
512 KiB one loses most best-effort camera-sized frames, docs/transport.md) unless a profile is
already set. Start the camera driver with the same variable: the sending side decides.
"""

from __future__ import annotations

import os

from ament_index_python.packages import PackageNotFoundError, get_package_prefix, get_package_share_directory
from launch import LaunchContext, LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction, SetEnvironmentVariable
from launch.substitutions import EnvironmentVariable, LaunchConfiguration
from launch_ros.actions import LifecycleNode, Node

from perception.bringup.graph import (
    DEFAULT_CAMERA_TOPIC,
    DEFAULT_NAMESPACE,
    GraphOptions,
    build_graph,
    container_launch_kwargs,
    launch_node_kwargs,
    parse_node_list,
)
from perception.core.constants import MODELS_DIR_ENV

SHARE = get_package_share_directory("perception")
FASTDDS_PROFILE = os.path.join(SHARE, "config", "fastdds_large_images.xml")
# Fast DDS 2.x (Humble, Jazzy) reads the FASTRTPS_ name, 3.x (Kilted and later) the FASTDDS_ one.
FASTDDS_PROFILE_ENV = (
    "FASTRTPS_DEFAULT_PROFILES_FILE"
    if os.environ.get("ROS_DISTRO") in ("humble", "jazzy")
    else "FASTDDS_DEFAULT_PROFILES_FILE"
)


def _truthy(text: str) -> bool:
    return text.strip().lower() in ("1", "true", "yes", "on")


def _rviz(context: LaunchContext) -> list[Node]:
    """RViz when use_rviz is true; its absence is an error before any node is spawned."""
    if not _truthy(LaunchConfiguration("use_rviz").perform(context)):
        return []
    try:
        get_package_prefix("rviz2")
    except PackageNotFoundError:
        raise RuntimeError(
            "use_rviz:=true but rviz2 is not installed (ros-$ROS_DISTRO-rviz2, not in ros-base); "
            "install it or launch without use_rviz"
        ) from None
    return [
        Node(
            package="rviz2",
            executable="rviz2",
            arguments=["-d", os.path.join(SHARE, "rviz", "perception.rviz")],
            output="screen",
        )
    ]


def _perception_nodes(context: LaunchContext) -> list[Node]:
    def arg(name: str) -> str:
        return LaunchConfiguration(name).perform(context)

    rviz = _rviz(context)
    options = GraphOptions(
        camera_topic=arg("camera_topic"),
        namespace=arg("namespace"),
        compressed_input=_truthy(arg("compressed")),
    )
    graph = build_graph(parse_node_list(arg("nodes")), options)
    common = (options, arg("params_file"), arg("models_dir"), _truthy(arg("autostart")))
    if _truthy(arg("single_process")):
        return [Node(**container_launch_kwargs(graph, *common)), *rviz]
    kwargs = launch_node_kwargs(graph, *common)
    nodes = [
        (LifecycleNode if spec.lifecycle else Node)(**node_kwargs)
        for spec, node_kwargs in zip(graph, kwargs, strict=True)
    ]
    return nodes + rviz


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription(
        [
            SetEnvironmentVariable(
                FASTDDS_PROFILE_ENV, EnvironmentVariable(FASTDDS_PROFILE_ENV, default_value=FASTDDS_PROFILE)
            ),
            DeclareLaunchArgument(
                "params_file",
                default_value=os.path.join(SHARE, "config", "jetson.yaml"),
                description="node parameters (config/jetson.yaml or config/desktop.yaml)",
            ),
            DeclareLaunchArgument(
                "models_dir",
                default_value=EnvironmentVariable(MODELS_DIR_ENV, default_value=""),
                description="folder relative model_path parameters are resolved against",
            ),
            DeclareLaunchArgument(
                "camera_topic", default_value=DEFAULT_CAMERA_TOPIC, description="raw image topic"
            ),
            DeclareLaunchArgument(
                "namespace", default_value=DEFAULT_NAMESPACE, description="namespace of all nodes"
            ),
            DeclareLaunchArgument(
                "nodes",
                default_value="detector,glass,caption,hazard,sign",
                description="comma-separated nodes to start (subset of detector,glass,caption,hazard,sign)",
            ),
            DeclareLaunchArgument(
                "compressed", default_value="false", description="use <camera_topic>/compressed"
            ),
            DeclareLaunchArgument(
                "autostart", default_value="true", description="nodes configure+activate themselves"
            ),
            DeclareLaunchArgument(
                "single_process",
                default_value="false",
                description="run every node in one process (less memory, one camera subscription)",
            ),
            DeclareLaunchArgument(
                "use_rviz", default_value="false", description="start RViz with rviz/perception.rviz"
            ),
            OpaqueFunction(function=_perception_nodes),
        ]
    )
