"""Benchmark perception.core.images conversions for one camera frame (default 1080p bgr8).

    python benchmarks/bench_images.py [--width 1920 --height 1080 --repeats 50]

Prints a Markdown table of median / p90 milliseconds per call, for rclpy messages (what the
nodes see) and rosbags messages (what the bag tools write), with CDR (de)serialisation and
JPEG for scale.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import Image

from perception.bags.typestore import perception_typestore
from perception.core.images import (
    compressed_to_numpy,
    image_to_numpy,
    numpy_to_compressed,
    numpy_to_image,
    to_bgr8,
)


def measure(call: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median and 90th-percentile wall time of ``call`` in milliseconds (after one warm-up)."""
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1e3)
    times.sort()
    return statistics.median(times), times[int(0.9 * (len(times) - 1))]


def padded(frame: np.ndarray, extra: int) -> Image:
    """An rclpy bgr8 Image whose rows carry ``extra`` padding bytes, as some drivers send."""
    height, width = frame.shape[:2]
    rows = np.zeros((height, width * 3 + extra), np.uint8)
    rows[:, : width * 3] = frame.reshape(height, -1)
    msg = numpy_to_image(rows, "mono8")  # the padded buffer, step = width * 3 + extra
    msg.encoding, msg.width = "bgr8", width
    return msg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()

    frame = np.random.default_rng(0).integers(0, 256, (args.height, args.width, 3), dtype=np.uint8)
    typestore = perception_typestore()
    types = typestore.types
    header = types["std_msgs/msg/Header"](
        stamp=types["builtin_interfaces/msg/Time"](sec=0, nanosec=0), frame_id="c"
    )
    rb_image = types["sensor_msgs/msg/Image"]
    msg = numpy_to_image(frame, "bgr8")
    raw = serialize_message(msg)
    rb_msg = numpy_to_image(frame, "bgr8", header, rb_image)
    rb_raw = typestore.serialize_cdr(rb_msg, "sensor_msgs/msg/Image")
    padded_msg = padded(frame, 64)
    jpeg = numpy_to_compressed(frame, "jpeg")
    rgb = frame[:, :, ::-1].copy()

    cases: list[tuple[str, Callable[[], object]]] = [
        ("numpy -> Image (rclpy)", lambda: numpy_to_image(frame, "bgr8")),
        ("Image -> numpy (rclpy, view)", lambda: image_to_numpy(msg)),
        ("Image -> numpy (rclpy, +64 B row padding, view)", lambda: image_to_numpy(padded_msg)),
        ("Image -> numpy + copy (rclpy)", lambda: image_to_numpy(msg).copy()),
        ("rclpy serialize_message(Image)", lambda: serialize_message(msg)),
        ("rclpy deserialize_message(Image)", lambda: deserialize_message(raw, Image)),
        ("numpy -> Image (rosbags)", lambda: numpy_to_image(frame, "bgr8", header, rb_image)),
        ("rosbags serialize_cdr(Image)", lambda: typestore.serialize_cdr(rb_msg, "sensor_msgs/msg/Image")),
        (
            "rosbags deserialize_cdr + image_to_numpy",
            lambda: image_to_numpy(typestore.deserialize_cdr(rb_raw, "sensor_msgs/msg/Image")),
        ),
        ("to_bgr8 from rgb8", lambda: to_bgr8(rgb, "rgb8")),
        ("numpy -> CompressedImage (jpeg)", lambda: numpy_to_compressed(frame, "jpeg")),
        ("CompressedImage (jpeg) -> numpy", lambda: compressed_to_numpy(jpeg)),
    ]
    print(
        f"{args.width}x{args.height} bgr8 ({frame.nbytes / 1e6:.1f} MB), {args.repeats} repeats, "
        f"{platform.processor() or platform.machine()}, Python {platform.python_version()}"
    )
    print("\n| conversion | median ms | p90 ms |\n|---|---:|---:|")
    for name, call in cases:
        median, p90 = measure(call, args.repeats)
        print(f"| {name} | {median:.3f} | {p90:.3f} |")


if __name__ == "__main__":
    main()
