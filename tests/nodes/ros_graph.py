"""An in-process ROS graph for node tests: a private rclpy context, an executor spinning in a
thread, and a helper node ``io`` whose publishers/subscribers the test drives; ``wait_for``
polls a condition while the executor delivers messages."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import rclpy
from rclpy.executors import Executor, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy

RELIABLE = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)


class RosGraph:
    """A private rclpy context with a spinning executor and a helper node called ``io``.

    Subclasses change how it spins (``make_executor``, ``spin``), e.g. as the container does."""

    def __init__(self) -> None:
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.executor = self.make_executor()
        self.nodes: list[Node] = []
        self.io = self.add(Node("test_io", context=self.context))
        self.thread = threading.Thread(target=self.spin, daemon=True)
        self.thread.start()

    def make_executor(self) -> Executor:
        return SingleThreadedExecutor(context=self.context)

    def spin(self) -> None:
        self.executor.spin()

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
        rclpy.try_shutdown(context=self.context)
        self.thread.join(5.0)
        for node in self.nodes:
            node.destroy_node()
