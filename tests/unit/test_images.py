"""numpy <-> sensor_msgs/Image conversions, with rclpy messages and rosbags dataclasses."""

from __future__ import annotations

import numpy as np
import pytest
from rosbags.typesys import Stores, get_typestore
from sensor_msgs.msg import CompressedImage, Image

from perception.core.images import (
    ENCODINGS,
    ImageConversionError,
    compressed_to_numpy,
    image_to_numpy,
    numpy_to_compressed,
    numpy_to_image,
    to_bgr8,
)

TYPESTORE = get_typestore(Stores.ROS2_KILTED)
RB_IMAGE = TYPESTORE.types["sensor_msgs/msg/Image"]
RB_COMPRESSED = TYPESTORE.types["sensor_msgs/msg/CompressedImage"]
RB_HEADER = TYPESTORE.types["std_msgs/msg/Header"](
    stamp=TYPESTORE.types["builtin_interfaces/msg/Time"](sec=3, nanosec=5), frame_id="camera"
)


def random_pixels(encoding: str, height: int = 5, width: int = 7, seed: int = 0) -> np.ndarray:
    """Random pixels of the encoding's dtype and channel count."""
    spec = ENCODINGS[encoding]
    shape = (height, width) if spec.channels == 1 else (height, width, spec.channels)
    rng = np.random.default_rng(seed)
    if spec.dtype.kind == "f":
        return rng.normal(size=shape).astype(spec.dtype)
    return rng.integers(0, np.iinfo(spec.dtype).max, size=shape, endpoint=True).astype(spec.dtype)


def rclpy_image(pixels: np.ndarray, encoding: str, step: int, bigendian: bool = False) -> Image:
    """An rclpy Image whose rows are padded to ``step`` bytes with garbage."""
    order = ">" if bigendian else "<"
    rows = pixels.astype(pixels.dtype.newbyteorder(order)).reshape(pixels.shape[0], -1).view(np.uint8)
    padded = np.full((pixels.shape[0], step), 0xAB, np.uint8)
    padded[:, : rows.shape[1]] = rows
    msg = Image(height=pixels.shape[0], width=pixels.shape[1], encoding=encoding, step=step)
    msg.is_bigendian = int(bigendian)
    msg.data = padded.tobytes()
    return msg


@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_round_trip_rclpy(encoding: str) -> None:
    pixels = random_pixels(encoding)
    msg = numpy_to_image(pixels, encoding)
    assert isinstance(msg, Image)
    assert (msg.height, msg.width, msg.encoding) == (5, 7, encoding)
    assert msg.step == 7 * ENCODINGS[encoding].channels * pixels.dtype.itemsize
    back = image_to_numpy(msg)
    assert back.dtype == pixels.dtype and back.shape == pixels.shape
    np.testing.assert_array_equal(back, pixels)


@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_round_trip_rosbags_through_cdr(encoding: str) -> None:
    pixels = random_pixels(encoding, seed=1)
    msg = numpy_to_image(pixels, encoding, header=RB_HEADER, msg_factory=RB_IMAGE)
    raw = TYPESTORE.serialize_cdr(msg, "sensor_msgs/msg/Image")
    back = image_to_numpy(TYPESTORE.deserialize_cdr(raw, "sensor_msgs/msg/Image"))
    np.testing.assert_array_equal(back, pixels)


def test_message_does_not_alias_the_source_array() -> None:
    pixels = random_pixels("bgr8")
    msg = numpy_to_image(pixels, "bgr8", header=RB_HEADER, msg_factory=RB_IMAGE)
    pixels[:] = 0
    assert image_to_numpy(msg).any()


def test_result_is_a_view_of_message_data() -> None:
    msg = numpy_to_image(random_pixels("rgb8"), "rgb8")
    view = image_to_numpy(msg)
    assert np.shares_memory(view, np.frombuffer(msg.data, np.uint8))


@pytest.mark.parametrize("encoding", ["bgr8", "mono8", "mono16", "32FC1", "rgba8"])
def test_padded_step_is_sliced_without_copy(encoding: str) -> None:
    pixels = random_pixels(encoding, seed=2)
    row_bytes = pixels.shape[1] * ENCODINGS[encoding].channels * pixels.dtype.itemsize
    msg = rclpy_image(pixels, encoding, step=row_bytes + 12)
    back = image_to_numpy(msg)
    np.testing.assert_array_equal(back, pixels)
    assert np.shares_memory(back, np.frombuffer(msg.data, np.uint8))


@pytest.mark.parametrize("encoding", ["mono16", "16UC1", "32FC1"])
def test_big_endian_data_comes_back_native(encoding: str) -> None:
    pixels = random_pixels(encoding, seed=3)
    msg = rclpy_image(pixels, encoding, step=pixels.shape[1] * pixels.dtype.itemsize + 4, bigendian=True)
    back = image_to_numpy(msg)
    assert back.dtype.isnative
    np.testing.assert_array_equal(back, pixels)


def test_big_endian_array_sets_flag() -> None:
    pixels = random_pixels("mono16").astype(">u2")
    msg = numpy_to_image(pixels, "mono16")
    assert msg.is_bigendian == 1
    np.testing.assert_array_equal(image_to_numpy(msg), pixels)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"encoding": "yuv422"}, r"unsupported image encoding 'yuv422'.*bgr8"),
        ({"height": 0, "data": b""}, r"empty bgr8 image 7x0"),
        ({"width": 0}, r"empty bgr8 image 0x5"),
        ({"data": b""}, r"empty bgr8 image"),
        ({"step": 20}, r"step is smaller than width\*channels\*bytes = 21"),
        ({"data": bytes(104)}, r"data holds 104 bytes but height\*step = 105"),
    ],
)
def test_bad_messages_raise_clear_errors(change: dict, expected: str) -> None:
    msg = numpy_to_image(random_pixels("bgr8"), "bgr8")
    for field, value in change.items():
        setattr(msg, field, value)
    with pytest.raises(ImageConversionError, match=expected):
        image_to_numpy(msg)


@pytest.mark.parametrize(
    ("pixels", "encoding", "expected"),
    [
        (np.zeros((4, 4), np.uint8), "bgr8", r"shape \(4, 4\) cannot be encoded as bgr8.*HxWx3"),
        (np.zeros((4, 4, 3), np.uint16), "bgr8", r"dtype uint16 does not match encoding bgr8"),
        (np.zeros((4, 4), np.float64), "32FC1", r"dtype float64 does not match.*astype\(np.float32\)"),
        (np.zeros((0, 4, 3), np.uint8), "bgr8", r"non-empty"),
        (np.zeros((4, 4, 3), np.uint8), "nv12", r"unsupported image encoding 'nv12'"),
        ([[1, 2]], "mono8", r"expected a numpy array"),
    ],
)
def test_bad_arrays_raise_clear_errors(pixels: np.ndarray, encoding: str, expected: str) -> None:
    with pytest.raises(ImageConversionError, match=expected):
        numpy_to_image(pixels, encoding)


def test_rosbags_factory_needs_header() -> None:
    with pytest.raises(ImageConversionError, match="header"):
        numpy_to_image(random_pixels("bgr8"), "bgr8", msg_factory=RB_IMAGE)


@pytest.mark.parametrize("shape", [(6, 8, 3), (6, 8)])
def test_png_round_trip_is_lossless(shape: tuple[int, ...]) -> None:
    pixels = np.random.default_rng(4).integers(0, 256, shape, dtype=np.uint8)
    msg = numpy_to_compressed(pixels, "png")
    assert isinstance(msg, CompressedImage)
    assert msg.format.endswith("png compressed " + ("bgr8" if len(shape) == 3 else "mono8"))
    np.testing.assert_array_equal(compressed_to_numpy(msg), pixels)


def test_jpeg_round_trip_is_close_rosbags() -> None:
    pixels = np.full((16, 16, 3), (30, 120, 220), np.uint8)
    msg = numpy_to_compressed(pixels, "jpeg", header=RB_HEADER, msg_factory=RB_COMPRESSED)
    raw = TYPESTORE.serialize_cdr(msg, "sensor_msgs/msg/CompressedImage")
    back = compressed_to_numpy(TYPESTORE.deserialize_cdr(raw, "sensor_msgs/msg/CompressedImage"))
    assert back.shape == pixels.shape
    assert np.abs(back.astype(int) - pixels).max() <= 3


def test_bad_compressed_input() -> None:
    with pytest.raises(ImageConversionError, match="cannot decode compressed image"):
        compressed_to_numpy(CompressedImage(format="jpeg", data=b"not a jpeg at all"))
    with pytest.raises(ImageConversionError, match="has no data"):
        compressed_to_numpy(CompressedImage(format="jpeg"))
    with pytest.raises(ImageConversionError, match="not supported"):
        numpy_to_compressed(np.zeros((4, 4, 3), np.uint8), "webp")


def test_to_bgr8_colour_orders() -> None:
    bgr = random_pixels("bgr8", seed=5)
    rgb, gray = bgr[:, :, ::-1], bgr[:, :, 1]
    bgra = np.dstack([bgr, np.full(bgr.shape[:2], 7, np.uint8)])
    rgba = bgra[:, :, [2, 1, 0, 3]]
    for pixels, encoding in [(bgr, "bgr8"), (rgb, "rgb8"), (bgra, "bgra8"), (rgba, "rgba8")]:
        np.testing.assert_array_equal(to_bgr8(pixels, encoding), bgr)
    assert (to_bgr8(gray, "mono8") == gray[:, :, None]).all()


def test_to_bgr8_scales_high_depth() -> None:
    mono16 = np.array([[0, 257, 65535]], np.uint16)
    assert to_bgr8(mono16, "mono16")[0, :, 0].tolist() == [0, 1, 255]
    depth = np.array([[1000, 1500, 2000]], np.uint16)
    assert to_bgr8(depth, "16UC1")[0, :, 1].tolist() == [0, 128, 255]
    metres = np.array([[np.nan, 0.5, 1.5, np.inf]], np.float32)
    out = to_bgr8(metres, "32FC1")
    assert out.shape == (1, 4, 3) and out.dtype == np.uint8
    assert out[0, :, 2].tolist() == [0, 0, 255, 0]


def test_to_bgr8_flat_depth_is_black_not_nan() -> None:
    flat = np.full((3, 4), 1234, np.uint16)
    out = to_bgr8(flat, "16UC1")
    assert out.shape == (3, 4, 3) and not out.any()
    assert not to_bgr8(np.full((2, 2), np.nan, np.float32), "32FC1").any()
