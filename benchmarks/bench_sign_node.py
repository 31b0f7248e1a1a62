"""What the sign node's frame worker spends per camera frame: decode + downscale + ring append.

    python benchmarks/bench_sign_node.py [--frames 300] [--crop 160]

Runs the frame worker's path without ROS (``decode_image`` then ``ClipBuffer.add``) on
synthetic-world scenes sent as raw bgr8 and as JPEG ``CompressedImage``, at 30 Hz stamps,
for a kept frame (every frame sampled: decode, downscale to ``--crop`` px short side, append)
and a sampled-out one (decode only; the downscale runs only for kept frames). Prints a
Markdown table of median / p90 microseconds per frame.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence

import numpy as np
from sensor_msgs.msg import CompressedImage, Image

from perception.core.images import numpy_to_compressed, numpy_to_image
from perception.core.video_models import downscale
from perception.nodes.framework.clip_buffer import ClipBuffer, ClipTiming
from perception.nodes.framework.image_node import decode_image
from perception_training.synthetic.world import SceneWorld

SIZES = ((640, 480), (1280, 720), (1920, 1080))
CAMERA_HZ = 30.0


def per_frame_us(
    messages: Sequence[Image | CompressedImage], sample_rate_hz: float, crop: int
) -> list[float]:
    """Microseconds of decode + ``ClipBuffer.add`` for each message, stamped at 30 Hz."""
    timing = ClipTiming(sample_rate_hz=sample_rate_hz, clip_duration_s=2.0, stride_s=1e6, max_gap_s=1.0)
    buffer = ClipBuffer(timing)
    times = []
    for index, msg in enumerate(messages):
        started = time.perf_counter()
        frame = decode_image(msg)
        buffer.add(index / CAMERA_HZ, frame.header, lambda f=frame: downscale(f.bgr, crop))
        times.append((time.perf_counter() - started) * 1e6)
    return times


def scenes(width: int, height: int, count: int) -> list[np.ndarray]:
    world = SceneWorld(seed=5)
    return [world.scene(i, "test", size=(width, height)).image for i in range(count)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300, help="frames per row (8 distinct scenes, cycled)")
    parser.add_argument("--crop", type=int, default=160, help="the model's input size (x3d_xs: 160)")
    args = parser.parse_args(argv)
    print(
        "| frame | transport | kept (decode+downscale+append) median / p90 us | sampled out median / p90 us |"
    )
    print("|---|---|---:|---:|")
    for width, height in SIZES:
        images = scenes(width, height, 8)
        for transport, encode in (
            ("raw bgr8", lambda a: numpy_to_image(a, "bgr8", msg_factory=Image)),
            ("jpeg", lambda a: numpy_to_compressed(a, "jpeg", msg_factory=CompressedImage)),
        ):
            messages = [encode(images[i % len(images)]) for i in range(args.frames)]
            cells = []
            for rate in (CAMERA_HZ, 1e-3):  # every frame kept; after the first, none kept
                times = per_frame_us(messages, rate, args.crop)[1:]
                p90 = statistics.quantiles(times, n=10)[-1]
                cells.append(f"{statistics.median(times):.0f} / {p90:.0f}")
            print(f"| {width}x{height} | {transport} | {cells[0]} | {cells[1]} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
