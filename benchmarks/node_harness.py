"""A node under test in the benchmark's own process: a private rclpy context, an executor spinning
in a thread, and a helper node that publishes camera frames to it and collects its results.

Frames go one at a time (the next after the previous result), so the node processes every frame
and the time from publishing to the result is the node's latency on it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image


class NodeHarness:
    """``make(context)`` builds the node; results of type ``result_type`` arrive on ``result_topic``."""

    def __init__(self, make: Callable[[Context], Node], result_type: type, result_topic: str) -> None:
        self.context = Context()
        rclpy.init(context=self.context)
        self.node = make(self.context)
        self.io = Node("bench_io", context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        for node in (self.node, self.io):
            self.executor.add_node(node)
        self.results: list[tuple[float, Any]] = []
        self._arrived = threading.Event()
        self.io.create_subscription(result_type, result_topic, self._on_result, 10)
        qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
        self.images = self.io.create_publisher(Image, "image", qos)
        self._spinner = threading.Thread(target=self.executor.spin, daemon=True)
        self._spinner.start()
        if not self.node.autostart():
            name = self.node.get_name()
            self.close()
            raise SystemExit(f"{name} did not start; see the log above")
        while self.images.get_subscription_count() == 0:
            time.sleep(0.01)

    def _on_result(self, msg: Any) -> None:
        self.results.append((time.perf_counter(), msg))
        self._arrived.set()

    def send(self, image: Image, timeout: float = 30.0) -> float:
        """Publish ``image``, wait for the node's result; seconds from publishing to receiving it."""
        self._arrived.clear()
        sent = time.perf_counter()
        self.images.publish(image)
        if not self._arrived.wait(timeout):
            raise SystemExit(f"no result from {self.node.get_name()} within {timeout} s")
        return self.results[-1][0] - sent

    def close(self) -> None:
        self.node.trigger_shutdown()
        self.executor.shutdown(timeout_sec=5.0)
        self._spinner.join(5.0)
        self.node.destroy_node()
        self.io.destroy_node()
        rclpy.shutdown(context=self.context)
