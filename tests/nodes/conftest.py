"""In-process ROS graph for node tests: one rclpy context per test, an executor in a thread.

Nodes under test and a helper node (publishers/subscribers the test drives) share the
context; ``RosGraph.wait_for`` polls a condition while the executor delivers messages.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy

RELIABLE = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)


class RosGraph:
    """A private rclpy context with a spinning executor and a helper node called ``io``."""

    def __init__(self) -> None:
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.nodes: list[Node] = []
        self.io = self.add(Node("test_io", context=self.context))
        self._thread = threading.Thread(target=self.executor.spin, daemon=True)
        self._thread.start()

    def add(self, node: Node) -> Node:
        self.nodes.append(node)
        self.executor.add_node(node)
        return node

    def publisher(self, msg_type: type, topic: str, qos: QoSProfile = RELIABLE) -> Any:
        return self.io.create_publisher(msg_type, topic, qos)

    def collect(self, msg_type: type, topic: str, qos: QoSProfile = RELIABLE) -> list[Any]:
        """Subscribe ``topic``; the returned list fills with received messages."""
        received: list[Any] = []
        self.io.create_subscription(msg_type, topic, received.append, qos)
        return received

    @staticmethod
    def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(0.01)
        return condition()

    def wait_matched(self, publisher: Any, timeout: float = 10.0) -> None:
        assert self.wait_for(lambda: publisher.get_subscription_count() > 0, timeout), "no subscriber matched"

    def close(self) -> None:
        for node in self.nodes:
            if hasattr(node, "finalized") and not node.finalized:
                node.trigger_shutdown()
        self.executor.shutdown(timeout_sec=5.0)
        self._thread.join(5.0)
        for node in self.nodes:
            node.destroy_node()
        rclpy.shutdown(context=self.context)


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    """A stand-in model file: test-double models (``model_factory``) only check that it exists."""
    path = tmp_path / "stub.safetensors"
    path.write_bytes(b"stub weights")
    return path


@pytest.fixture
def ros() -> Iterator[RosGraph]:
    graph = RosGraph()
    try:
        yield graph
    finally:
        graph.close()
