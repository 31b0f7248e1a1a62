"""jetson.launch.py under launch_pytest: runs on a ROS 2 install, skips where launch is absent.

launch/launch_ros/launch_pytest are not on PyPI, so this skips in the project's venv; on a
sourced ROS 2 workspace (`colcon test`) it starts the real launch file and checks the
detector comes up under the namespace and answers a camera frame.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

launch_pytest = pytest.importorskip(
    "launch_pytest", reason="launch_pytest needs a ROS 2 install (not on PyPI)"
)

import numpy as np  # noqa: E402
import rclpy  # noqa: E402
from ament_index_python.packages import get_package_share_directory  # noqa: E402
from launch import LaunchDescription  # noqa: E402
from launch.actions import IncludeLaunchDescription  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402
from rclpy.node import Node  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402

from perception.core.images import numpy_to_image  # noqa: E402
from perception_msgs.msg import DetectionArray  # noqa: E402

MODELS = Path(__file__).resolve().parents[2] / "models"
ARTIFACT = MODELS / "detector" / "yolo11n_synthetic.safetensors"


@launch_pytest.fixture
def bringup() -> LaunchDescription:
    share = get_package_share_directory("perception")
    launch_file = os.path.join(share, "launch", "jetson.launch.py")
    arguments = {
        "params_file": os.path.join(share, "config", "desktop.yaml"),
        "models_dir": str(MODELS),
        "nodes": "detector",
        "namespace": "perception",
        "camera_topic": "/camera/image_raw",
        "use_rviz": "false",
    }
    return LaunchDescription(
        [
            IncludeLaunchDescription(
                PythonLaunchDescriptionSource(launch_file), launch_arguments=arguments.items()
            ),
            launch_pytest.actions.ReadyToTest(),
        ]
    )


@pytest.mark.skipif(not ARTIFACT.is_file(), reason=f"{ARTIFACT} not trained yet")
@pytest.mark.launch(fixture=bringup)
def test_detector_answers_a_camera_frame_under_the_namespace() -> None:
    rclpy.init()
    node = Node("bringup_probe")
    received: list[DetectionArray] = []
    node.create_subscription(DetectionArray, "/perception/detections", received.append, 10)
    publisher = node.create_publisher(Image, "/camera/image_raw", 10)
    spinner = threading.Thread(target=rclpy.spin, args=(node,), daemon=True)
    spinner.start()
    try:
        frame = numpy_to_image(np.full((480, 640, 3), 127, np.uint8), "bgr8")
        frame.header.frame_id = "camera"
        deadline = time.monotonic() + 60.0
        while not received and time.monotonic() < deadline:
            frame.header.stamp = node.get_clock().now().to_msg()
            publisher.publish(frame)
            time.sleep(0.5)
        assert received, "no DetectionArray on /perception/detections within 60 s"
        assert received[0].header.frame_id == "camera"
        assert (received[0].image_width, received[0].image_height) == (640, 480)
        assert "/perception" in [ns for _, ns in node.get_node_names_and_namespaces()]
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
