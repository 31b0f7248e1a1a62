"""End-to-end latency of the detector node in one process: publish Image -> DetectionArray.

    python benchmarks/bench_detector_node.py [--model PATH] [--frames 30] [--debug-image DIR]

Without ``--model`` the node runs a constant model returning 10 boxes, so the figure is the
framework's own cost (DDS transfer, decode, conversion, markers, publish); with ``--model``
it runs the real Detector on CPU. Frames are synthetic-world test scenes, sent one at a time
(the next after the result arrives), so nothing is dropped. Prints a Markdown table of
median / p90 milliseconds. ``--debug-image DIR`` also has the node draw and publish
debug_image and saves the last one per frame size there as PNG.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
from node_harness import NodeHarness
from rclpy.parameter import Parameter
from sensor_msgs.msg import Image

from perception.core.detections import Detection
from perception.core.domain import UNSCORED, DomainVerdict
from perception.core.images import image_to_numpy, numpy_to_image
from perception.nodes.detector_node import DetectorNode
from perception_msgs.msg import DetectionArray
from perception_training.synthetic.world import SceneWorld

SIZES = ((640, 480), (1280, 720), (1920, 1080))


class ConstantModel:
    """Ten fixed boxes per frame: isolates the node's cost from the model's."""

    model_id = "constant"
    imgsz = 320  # the node derives its smallest accepted frame from it

    def detect(
        self, bgr: np.ndarray, conf: float, iou: float, classes: Sequence[str] | None
    ) -> list[Detection]:
        return [Detection(i, f"class{i}", 0.9, 10.0 * i, 10.0, 10.0 * i + 50, 80.0) for i in range(10)]

    def class_ids(self, names: Sequence[str]) -> list[int]:
        return []

    def domain_verdict(self) -> DomainVerdict:
        return UNSCORED


def run(model: str | None, frames: int, debug_dir: Path | None) -> list[tuple[str, float, float, float]]:
    overrides = [Parameter("debug_image", value=debug_dir is not None), Parameter("device", value="cpu")]
    if model:
        overrides.append(Parameter("model_path", value=model))
    factory = None if model else (lambda p: ConstantModel())
    harness = NodeHarness(
        lambda context: DetectorNode(context=context, parameter_overrides=overrides, model_factory=factory),
        DetectionArray,
        "detections",
    )
    debug_images: list[Image] = []
    harness.io.create_subscription(Image, "debug_image", debug_images.append, 10)
    rows = []
    try:
        world = SceneWorld(seed=0)
        for width, height in SIZES:
            latencies = []
            for index in range(frames + 1):
                msg = numpy_to_image(world.scene(index, "test", size=(width, height)).image, "bgr8")
                latency = harness.send(msg)
                if index:  # the first frame warms up
                    latencies.append(latency * 1e3)
            latencies.sort()
            p90 = latencies[int(0.9 * (len(latencies) - 1))]
            dropped = harness.node.counters["dropped"]
            rows.append((f"{width}x{height}", statistics.median(latencies), p90, dropped))
            if debug_dir is not None and wait_for(lambda: len(debug_images) == len(harness.results)):
                png = debug_dir / f"detector_debug_{width}x{height}.png"
                cv2.imwrite(str(png), image_to_numpy(debug_images[-1]))
    finally:
        harness.close()
    return rows


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="detector model file; default: a constant 10-box model")
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument(
        "--debug-image", type=Path, metavar="DIR", help="publish debug_image, save PNGs in DIR"
    )
    args = parser.parse_args()
    if args.debug_image is not None:
        args.debug_image.mkdir(parents=True, exist_ok=True)
    rows = run(args.model, args.frames, args.debug_image)
    print(f"model: {args.model or 'constant (framework only)'}, debug_image: {args.debug_image is not None}")
    print("| frame | median ms | p90 ms | dropped |\n|---|---|---|---|")
    for size, median, p90, dropped in rows:
        print(f"| {size} | {median:.1f} | {p90:.1f} | {dropped} |")


if __name__ == "__main__":
    main()
