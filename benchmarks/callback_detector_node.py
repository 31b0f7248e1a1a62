"""The common design the overload benchmark compares against: the model runs in the subscription
callback, the subscription is reliable with a queue of 10 frames, nothing is dropped on purpose
and nothing is counted. Each frame gets the same model work as in ``detector_node``: detections
and their domain score.

    python benchmarks/callback_detector_node.py --model PATH [--threads 1]

Same model loader, threads and output message as ``detector_node`` (``load_detector``,
``detection_array_msg``); subscribes ``image``, publishes ``detections``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import rclpy
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

from perception.core.detector_api import load_detector
from perception.core.onnx_session import SessionOptions
from perception.nodes.framework.conversions import detection_array_msg
from perception.nodes.framework.domain_watch import mark_domain
from perception.nodes.framework.frames import decode_image
from perception.nodes.framework.torch_threads import apply_node_threads
from perception_msgs.msg import DetectionArray


class CallbackDetectorNode(Node):
    """Decode, detect and publish inside the image callback; the queue absorbs what it cannot keep up with."""

    def __init__(self, model_path: str, threads: int) -> None:
        super().__init__("callback_detector_node")
        if not model_path.endswith(".onnx"):
            apply_node_threads(threads)
        self.model = load_detector(model_path, device="cpu", onnx=SessionOptions(threads=threads))
        self.publisher = self.create_publisher(DetectionArray, "detections", 10)
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.create_subscription(Image, "image", self.on_image, qos)

    def on_image(self, msg: Image) -> None:
        frame = decode_image(msg)
        detections = self.model.detect(frame.bgr, 0.25, 0.45, None)
        result = detection_array_msg(msg.header, detections, frame.width, frame.height, self.model.model_id)
        self.publisher.publish(mark_domain(result, self.model.domain_verdict()))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(rclpy.utilities.remove_ros_args(argv if argv is not None else sys.argv)[1:])
    rclpy.init()
    node = CallbackDetectorNode(args.model, args.threads)
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
