"""Ctrl-C ends a node process within 2 s, even with an inference in flight, with no error line.

The detector runs the real artifact at a 2048 px input (about a second per frame on this CPU)
on a stream of frames, so a frame is always being processed when SIGINT arrives; it is
discarded. The hazard node used to log "Failed to publish log message to rosout" at exit.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

from perception.core.images import numpy_to_image
from perception_msgs.msg import DetectionArray

REPO = Path(__file__).resolve().parents[2]
ARTIFACT = REPO / "models" / "detector" / "yolo11n_synthetic.safetensors"
EXIT_WITHIN_S = 2.0
ERROR_MARKERS = ("ERROR", "Failed to publish", "Traceback", "terminate called", "escalating")
RELIABLE = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)


def spawn(python: str, module: str, name: str, log: Path, *params: str) -> subprocess.Popen:
    command = [python, "-m", module, "--ros-args", "-r", f"__node:={name}"]
    for value in params:
        command += ["-p", value]
    with log.open("w") as output:
        return subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=dict(os.environ))


def interrupt(process: subprocess.Popen) -> tuple[int, float]:
    begin = time.monotonic()
    process.send_signal(signal.SIGINT)
    returncode = process.wait(timeout=30)
    return returncode, time.monotonic() - begin


@pytest.mark.slow
def test_detector_exits_quickly_with_a_frame_in_flight(tmp_path: Path, python_executable: str) -> None:
    log = tmp_path / "detector.log"
    process = spawn(
        python_executable,
        "perception.nodes.detector_node",
        "shutdown_probe",
        log,
        f"model_path:={ARTIFACT}",
        "image_size:=2048",
        "cpu_threads:=1",
        "image_reliability:=reliable",
    )
    context = rclpy.Context()
    rclpy.init(context=context)
    node = Node("shutdown_driver", context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    detections: list[DetectionArray] = []
    node.create_subscription(DetectionArray, "/detections", detections.append, RELIABLE)
    images = node.create_publisher(Image, "/image", RELIABLE)
    frame = numpy_to_image(np.full((480, 640, 3), 90, np.uint8), "bgr8")
    stop = threading.Event()

    def stream() -> None:
        while not stop.wait(0.1):
            frame.header.stamp = node.get_clock().now().to_msg()
            images.publish(frame)

    streamer = threading.Thread(target=stream, daemon=True)
    streamer.start()
    try:
        deadline = time.monotonic() + 120.0
        while not detections and time.monotonic() < deadline and process.poll() is None:
            executor.spin_once(timeout_sec=0.1)
        assert detections, log.read_text()
        time.sleep(0.3)  # the next frame is now being processed
        returncode, took = interrupt(process)
    finally:
        stop.set()
        streamer.join(2.0)
        node.destroy_node()
        rclpy.shutdown(context=context)
        if process.poll() is None:
            process.kill()
    text = log.read_text()
    assert returncode == 0, text
    assert took < EXIT_WITHIN_S, f"exit took {took:.2f} s\n{text}"
    assert "result discarded" in text, text
    assert not [m for m in ERROR_MARKERS if m in text], text


def test_hazard_node_exits_without_rosout_errors(tmp_path: Path, python_executable: str) -> None:
    log = tmp_path / "hazard.log"
    process = spawn(python_executable, "perception.nodes.hazard_node", "hazard_probe", log)
    deadline = time.monotonic() + 60.0
    while "configured:" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    returncode, took = interrupt(process)
    text = log.read_text()
    assert returncode == 0 and took < EXIT_WITHIN_S, f"{returncode}, {took:.2f} s\n{text}"
    assert "releasing rules and notifiers" in text
    assert not [m for m in ERROR_MARKERS if m in text], text
