"""The detector console script as a process: failed autostart keeps it manageable, Ctrl-C is clean."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import rclpy
from lifecycle_msgs.msg import State
from lifecycle_msgs.srv import GetState
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node


def test_failed_autostart_leaves_a_manageable_node_that_exits_cleanly(
    tmp_path: Path, python_executable: str
) -> None:
    log = tmp_path / "node.log"
    command = [
        python_executable,
        "-m",
        "perception.nodes.detector_node",
        "--ros-args",
        "-r",
        "__node:=detector_probe",
        "-p",
        f"model_path:={tmp_path / 'missing.safetensors'}",
    ]
    with log.open("w") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=dict(os.environ))
    context = rclpy.Context()
    rclpy.init(context=context)
    node = Node("process_probe", context=context)
    try:
        client = node.create_client(GetState, "/detector_probe/get_state")
        assert client.wait_for_service(timeout_sec=60.0), log.read_text()
        future = client.call_async(GetState.Request())
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)
        executor.spin_until_future_complete(future, timeout_sec=10.0)
        assert future.result().current_state.id == State.PRIMARY_STATE_UNCONFIGURED
    finally:
        node.destroy_node()
        rclpy.shutdown(context=context)
        process.send_signal(signal.SIGINT)
        returncode = process.wait(timeout=20)
    text = log.read_text()
    assert returncode == 0, text
    assert "missing.safetensors does not exist" in text and "autostart failed" in text
    assert "Unable to start transition" not in text and "Traceback" not in text
