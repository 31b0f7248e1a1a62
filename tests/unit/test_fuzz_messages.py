"""Seeded fuzzing of the framework's message checks and conversions (issue 10).

Hundreds of malformed Image, CompressedImage, DetectionArray and Caption messages go through
the same functions the nodes call (``inspect_image`` in the subscription callback,
``decode_image`` on the worker, ``checked_detections``, ``checked_caption``). Each must end
in a clear skip (ImageConversionError) or a valid result, memory must stay bounded, and a
good message after each bad one must still convert correctly.
"""

from __future__ import annotations

import math
import struct
import zlib

import cv2
import numpy as np
import psutil
from sensor_msgs.msg import CompressedImage, Image

from perception.core.images import ImageConversionError, numpy_to_image
from perception.nodes.framework.conversions import checked_caption, checked_detections
from perception.nodes.framework.image_node import MAX_8K_PIXELS, decode_image, inspect_image
from perception_msgs.msg import Detection

CASES = 250
MIN_SIDE = 16
ENCODINGS = ("bgr8", "rgb8", "mono8", "mono16", "32FC1", "bgra8", "yuv422", "", "BGR8", "jpeg", "16UC3")
SPECIAL = (math.nan, math.inf, -math.inf, -1.0, 0.0, 1e30, -1e30, 0.5)
GOOD = np.dstack([np.full((120, 160), v, np.uint8) for v in (10, 120, 250)])


def _png_header(rng: np.random.Generator) -> bytes:
    width, height = (int(v) for v in rng.choice([0, 1, 3, 640, 20_000, 100_000, 2**31 - 1], 2))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, int(rng.choice([0, 2, 6, 9])), 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk + bytes(rng.integers(0, 256, int(rng.integers(0, 64)), np.uint8))


def bad_image(rng: np.random.Generator) -> Image:
    msg = Image()
    msg.encoding = str(rng.choice(ENCODINGS))
    msg.width = int(rng.choice([0, 1, 3, 17, 160, 4096, 100_000]))
    msg.height = int(rng.choice([0, 1, 3, 17, 120, 4096, 100_000]))
    msg.step = int(rng.choice([0, 1, msg.width, msg.width * 3, msg.width * 3 + 4, 2**31]))
    msg.is_bigendian = int(rng.integers(0, 2))
    msg.data = bytes(rng.integers(0, 256, int(rng.integers(0, 200_000)), np.uint8))
    return msg


def bad_compressed(rng: np.random.Generator) -> CompressedImage:
    _ok, encoded = cv2.imencode(str(rng.choice([".jpg", ".png"])), GOOD)
    kind = int(rng.integers(0, 4))
    if kind == 0:
        data = bytes(rng.integers(0, 256, int(rng.integers(0, 5000)), np.uint8))
    elif kind == 1:
        data = encoded.tobytes()[: int(rng.integers(0, encoded.size))]  # truncated
    elif kind == 2:
        data = _png_header(rng)
    else:
        flipped = encoded.copy()
        flipped[rng.integers(0, encoded.size, 20)] ^= 0xFF  # damaged
        data = flipped.tobytes()
    return CompressedImage(
        format=str(rng.choice(["jpeg", "png", "", "bgr8; jpeg compressed bgr8"])), data=data
    )


def _convert(msg: Image | CompressedImage) -> np.ndarray | None:
    """What a node does with a frame: the callback's check, then the worker's decode."""
    try:
        inspect_image(msg, MAX_8K_PIXELS, MIN_SIDE)
        return decode_image(msg).bgr
    except ImageConversionError as error:
        assert str(error), "a skip must say why"
        return None


def test_malformed_images_are_clear_skips_memory_stays_bounded_and_good_frames_still_convert() -> None:
    rng = np.random.default_rng(20261129)
    process = psutil.Process()
    baseline = process.memory_info().rss
    outcomes = {"skipped": 0, "converted": 0}
    for index in range(CASES):
        bad = bad_image(rng) if index % 2 else bad_compressed(rng)
        pixels = _convert(bad)
        outcomes["skipped" if pixels is None else "converted"] += 1
        if pixels is not None:
            assert pixels.dtype == np.uint8 and pixels.ndim == 3 and pixels.shape[2] == 3
            assert min(pixels.shape[:2]) >= MIN_SIDE
        good = numpy_to_image(GOOD, "bgr8")
        assert np.array_equal(_convert(good), GOOD), f"good frame after case {index} broke"
    growth_mib = (process.memory_info().rss - baseline) / 2**20
    assert growth_mib < 200, f"memory grew by {growth_mib:.0f} MiB over {CASES} malformed frames"
    assert outcomes["skipped"] >= CASES * 0.8, outcomes


def test_malformed_detection_arrays_keep_only_valid_boxes_within_the_cap() -> None:
    rng = np.random.default_rng(7)
    for _ in range(CASES):
        count = int(rng.choice([0, 1, 5, 50, 3000]))
        values = rng.choice(SPECIAL, (count, 5))
        noise = rng.uniform(0, 640, (count, 5))
        values = np.where(rng.random((count, 5)) < 0.7, noise / np.array([1, 1, 1, 1, 640]), values)
        msgs = [
            Detection(
                class_name="cup",
                score=float(s),
                x_min=float(a),
                y_min=float(b),
                x_max=float(c),
                y_max=float(d),
            )
            for a, b, c, d, s in values
        ]
        checked = checked_detections(msgs, max_count=100)
        assert len(checked.kept) <= 100 and checked.invalid + len(checked.kept) + checked.capped == count
        for d in checked.kept:
            assert all(math.isfinite(v) for v in (d.x_min, d.y_min, d.x_max, d.y_max, d.score))
            assert d.x_min < d.x_max and d.y_min < d.y_max and 0.0 <= d.score <= 1.0
        assert (checked.invalid > 0) == bool(checked.reason)


def test_malformed_captions_are_refused_or_cut() -> None:
    rng = np.random.default_rng(11)
    alphabet = [*list("a knife 칼이 있다 \x00\n\t🙂"), "가나다라마" * 50]
    for _ in range(CASES):
        text = "".join(rng.choice(alphabet, int(rng.choice([0, 3, 300, 5000]))))
        score = float(rng.choice(SPECIAL))
        checked = checked_caption(text, score, max_chars=300)
        if math.isfinite(score):
            assert not checked.problem and len(checked.text) <= 300
            assert checked.truncated == (len(text) > 300) and text.startswith(checked.text)
        else:
            assert checked.problem and not checked.text
