"""Several nodes in one process as perception.bringup.container runs them: one camera
subscription, one decode per frame shared read-only, topics between the nodes handed over as
the same object (and still published on DDS), each node's lifecycle its own, and one node's
failure (worker, callback, configure) leaving the others running.

The nodes are small test doubles on the real framework (ImageModelNode / ManagedNode), on a
MultiThreadedExecutor spun by the runner's ``_spin`` as the container spins it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from rclpy.executors import Executor, ExternalShutdownException, MultiThreadedExecutor
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.node import Node
from rclpy.parameter import Parameter
from ros_graph import RosGraph
from sensor_msgs.msg import Image
from std_msgs.msg import String

from perception.core.images import numpy_to_image
from perception.nodes.framework.frames import Frame
from perception.nodes.framework.image_node import ImageModelNode, ImageNodeParameters
from perception.nodes.framework.in_process import InProcess, LocalBus, SharedCamera
from perception.nodes.framework.managed_node import ManagedNode
from perception.nodes.framework.qos import image_qos
from perception.nodes.framework.runner import spin_until_shutdown

SUCCESS, FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE
CAMERA = "/camera/image_raw"
TEXT = "/text"  # published by the producer, read by the consumer in-process
REMAP = ["--ros-args", "-r", f"image:={CAMERA}"]


class FrameNode(ImageModelNode[ImageNodeParameters, object]):
    """Keeps every frame it processed; publishes the frame's stamp on ``publish_to`` if given;
    raises on every frame when ``fail`` is set."""

    parameters_spec = ImageNodeParameters

    def __init__(self, name: str, publish_to: str = "", fail: bool = False, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.frames: list[Frame] = []
        self.published: list[String] = []
        self.publish_to, self.fail = publish_to, fail

    def load_model(self, params: ImageNodeParameters) -> object:
        return object()

    def create_outputs(self, params: ImageNodeParameters) -> None:
        self.out = self.create_output(String, self.publish_to) if self.publish_to else None

    def process_frame(self, frame: Frame, context: Any) -> None:
        if self.fail:
            raise RuntimeError("model exploded")
        self.frames.append(frame)
        if self.out is not None:
            self.published.append(String(data=str(frame.header.stamp.sec)))
            self.out.publish(self.published[-1])


@dataclass(frozen=True)
class NoParameters:
    pass


class TextNode(ManagedNode[NoParameters, object]):
    """Keeps every message on TEXT; its callback raises on the first one when ``fail_once``."""

    parameters_spec = NoParameters

    def __init__(self, fail_once: bool = False, **kwargs: Any) -> None:
        super().__init__("text_node", **kwargs)
        self.received: list[String] = []
        self.fail_once = fail_once

    def load_model(self, params: NoParameters) -> object:
        return object()

    def create_outputs(self, params: NoParameters) -> None:
        pass

    def create_inputs(self, params: NoParameters) -> None:
        self.create_input(String, TEXT, self._on_text)

    def _on_text(self, msg: String) -> None:
        self.received.append(msg)
        if self.fail_once and len(self.received) == 1:
            raise RuntimeError("callback bug")


class Process(RosGraph):
    """A container-like owner node with the shared camera on a MultiThreadedExecutor, spun by
    the runner's ``spin_until_shutdown`` as the container spins it."""

    def __init__(self) -> None:
        super().__init__()
        self.owner = self.add(Node("perception_container", context=self.context))
        self.in_process = InProcess(SharedCamera(self.owner), LocalBus([TEXT]))

    def make_executor(self) -> Executor:
        return MultiThreadedExecutor(num_threads=4, context=self.context)

    def spin(self) -> None:
        with contextlib.suppress(ExternalShutdownException):
            spin_until_shutdown(self.executor, isolate_callbacks=True)

    def node(self, cls: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        node = cls(*args, in_process=self.in_process, context=self.context, cli_args=REMAP, **kwargs)
        return self.add(node)


@pytest.fixture
def process() -> Iterator[Process]:
    proc = Process()
    try:
        yield proc
    finally:
        proc.close()


wait_for = RosGraph.wait_for


def camera(process: Process) -> Callable[[int], None]:
    """A publisher of small bgr8 frames stamped ``sec``; waits until the shared subscription matched."""
    publisher = process.io.create_publisher(Image, CAMERA, image_qos("best_effort", 1))
    assert wait_for(lambda: publisher.get_subscription_count() > 0)

    def send(sec: int) -> None:
        msg = numpy_to_image(np.full((48, 64, 3), sec, np.uint8), "bgr8")
        msg.header.stamp.sec = sec
        publisher.publish(msg)

    return send


def send_until(send: Callable[[int], None], done: Callable[[], bool], first: int = 1) -> int:
    """Publish a frame every 50 ms until ``done`` (best effort may lose one); the next stamp."""
    sec = first
    deadline = time.monotonic() + 10.0
    while not done() and time.monotonic() < deadline:
        send(sec)
        sec += 1
        time.sleep(0.05)
    assert done(), "frames did not arrive"
    return sec


def test_one_subscription_and_one_read_only_decode_shared_by_every_image_node(process) -> None:
    a = process.node(FrameNode, "a_node")
    b = process.node(FrameNode, "b_node")
    assert a.autostart() and b.autostart()
    send = camera(process)
    assert process.in_process.camera.subscriptions == 1
    assert process.io.count_subscribers(CAMERA) == 1, "the nodes must not subscribe the camera themselves"

    send_until(send, lambda: bool(set(_stamps(a)) & set(_stamps(b))))
    common = (set(_stamps(a)) & set(_stamps(b))).pop()
    frame_a = next(f for f in a.frames if f.header.stamp.sec == common)
    frame_b = next(f for f in b.frames if f.header.stamp.sec == common)
    assert frame_a is frame_b, "the frame must be decoded once and shared"
    assert not frame_a.bgr.flags.writeable
    with pytest.raises(ValueError):
        frame_a.bgr[0, 0, 0] = 1


def test_each_node_keeps_its_own_rate(process) -> None:
    fast = process.node(FrameNode, "fast_node")
    slow = process.node(FrameNode, "slow_node", parameter_overrides=[Parameter("max_rate_hz", value=2.0)])
    assert fast.autostart() and slow.autostart()
    send = camera(process)
    send_until(send, lambda: len(fast.frames) >= 15)
    assert fast.counters["throttled"] == 0
    assert slow.counters["throttled"] > 0 and len(slow.frames) < len(fast.frames)


def test_a_topic_between_nodes_is_the_same_object_and_still_on_dds(process) -> None:
    producer = process.node(FrameNode, "producer_node", publish_to=TEXT)
    consumer = process.node(TextNode)
    outside: list[String] = []
    process.io.create_subscription(String, TEXT, outside.append, 10)
    assert producer.autostart() and consumer.autostart()
    assert wait_for(lambda: process.io.count_subscribers(TEXT) == 1), "only the outside subscriber is on DDS"
    send = camera(process)
    send_until(send, lambda: len(consumer.received) >= 3 and len(outside) >= 3)
    assert {m.data for m in consumer.received} & {m.data for m in outside}
    published = {id(m) for m in producer.published}
    assert all(id(m) in published for m in consumer.received), "in-process: the published object itself"
    assert not any(id(m) in published for m in outside), "outside: a deserialised copy"


def test_lifecycle_per_node_and_the_shared_subscription_follows_the_active_nodes(process) -> None:
    a = process.node(FrameNode, "a_node")
    b = process.node(FrameNode, "b_node")
    assert a.autostart() and b.autostart()
    send = camera(process)
    assert a.trigger_deactivate() == SUCCESS
    seen_by_a = len(a.frames)
    sec = send_until(send, lambda: len(b.frames) >= 5)
    assert len(a.frames) == seen_by_a, "a deactivated node must not get frames"
    assert process.in_process.camera.subscriptions == 1
    assert a.trigger_activate() == SUCCESS
    send_until(send, lambda: len(a.frames) > seen_by_a, first=sec)
    assert a.trigger_deactivate() == SUCCESS and b.trigger_deactivate() == SUCCESS
    assert process.in_process.camera.subscriptions == 0
    assert wait_for(lambda: process.io.count_subscribers(CAMERA) == 0)


def test_one_nodes_failures_leave_the_others_running(process) -> None:
    failing_worker = process.node(FrameNode, "failing_node", fail=True)
    model_missing = [True]
    unconfigurable = process.node(FrameNode, "broken_node", model_factory=lambda p: _load(model_missing))
    producer = process.node(FrameNode, "producer_node", publish_to=TEXT)
    failing_callback = process.node(TextNode, fail_once=True)
    assert failing_worker.autostart() and producer.autostart() and failing_callback.autostart()
    assert unconfigurable.trigger_configure() == FAILURE
    send = camera(process)
    send_until(send, lambda: len(producer.frames) >= 5 and len(failing_callback.received) >= 3)
    assert failing_worker.counters["failed"] >= 1 and failing_worker.counters["processed"] == 0
    assert process.thread.is_alive(), "the executor must keep spinning after a callback raised"
    # The node whose configure failed can still be fixed and brought up alone.
    model_missing[0] = False
    assert unconfigurable.autostart()
    send_until(send, lambda: len(unconfigurable.frames) >= 1, first=100)


def _stamps(node: FrameNode) -> list[int]:
    return [f.header.stamp.sec for f in node.frames]


def _load(missing: list[bool]) -> object:
    if missing[0]:
        raise FileNotFoundError("no such model")
    return object()
