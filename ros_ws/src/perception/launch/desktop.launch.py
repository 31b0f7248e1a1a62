"""The perception nodes on a desktop GPU/CPU: ``ros2 launch perception desktop.launch.py``.

jetson.launch.py with config/desktop.yaml as the default params_file; every other argument
(models_dir, camera_topic, namespace, nodes, compressed, autostart, use_rviz) is passed
through unchanged.
"""

from __future__ import annotations

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration

SHARE = get_package_share_directory("perception")


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription(
        [
            DeclareLaunchArgument(
                "params_file",
                default_value=os.path.join(SHARE, "config", "desktop.yaml"),
                description="node parameters (config/desktop.yaml or config/jetson.yaml)",
            ),
            IncludeLaunchDescription(
                PythonLaunchDescriptionSource(os.path.join(SHARE, "launch", "jetson.launch.py")),
                launch_arguments={"params_file": LaunchConfiguration("params_file")}.items(),
            ),
        ]
    )
