"""numpy <-> sensor_msgs/Image and CompressedImage without cv_bridge.

PyPI's cv-bridge is a broken ROS 1 copy and ROS 2's cv_bridge is not on PyPI, so the nodes
convert images here, matching ROS 2 cv_bridge's results (shapes, dtypes, byte order).
Messages are duck-typed: rclpy's generated classes and rosbags' typestore dataclasses both
work, so the same code serves live topics, bag files and tests.
"""

from __future__ import annotations

import array as std_array
import io
import sys
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import cv2
import numpy as np
from PIL import Image as PILImage


class ImageConversionError(ValueError):
    """An image message or array cannot be converted; the message says what and how to fix it."""


class EncodingSpec(NamedTuple):
    """How one sensor_msgs/Image encoding lays out a pixel."""

    dtype: np.dtype
    channels: int


ENCODINGS: dict[str, EncodingSpec] = {
    "rgb8": EncodingSpec(np.dtype(np.uint8), 3),
    "bgr8": EncodingSpec(np.dtype(np.uint8), 3),
    "rgba8": EncodingSpec(np.dtype(np.uint8), 4),
    "bgra8": EncodingSpec(np.dtype(np.uint8), 4),
    "mono8": EncodingSpec(np.dtype(np.uint8), 1),
    "8UC1": EncodingSpec(np.dtype(np.uint8), 1),
    "8UC3": EncodingSpec(np.dtype(np.uint8), 3),
    "mono16": EncodingSpec(np.dtype(np.uint16), 1),
    "16UC1": EncodingSpec(np.dtype(np.uint16), 1),
    "32FC1": EncodingSpec(np.dtype(np.float32), 1),
}

COMPRESSED_FORMATS = ("jpeg", "png")

# cv2.cvtColor codes that turn each colour encoding into BGR; "8UC3" is taken as BGR like cv_bridge.
_TO_BGR: dict[str, int | None] = {
    "bgr8": None,
    "8UC3": None,
    "rgb8": cv2.COLOR_RGB2BGR,
    "rgba8": cv2.COLOR_RGBA2BGR,
    "bgra8": cv2.COLOR_BGRA2BGR,
    "mono8": cv2.COLOR_GRAY2BGR,
    "8UC1": cv2.COLOR_GRAY2BGR,
}


def image_to_numpy(msg: Any) -> np.ndarray:
    """Return the pixels of a sensor_msgs/Image as an HxW (one channel) or HxWxC array.

    The result is a view of ``msg.data`` (row padding sliced off through strides) whenever the
    data is in native byte order; it is read-only when ``msg.data`` is. Copy it before keeping
    it beyond the message's lifetime if the message buffer is reused.
    """
    encoding = str(msg.encoding)
    spec = encoding_spec(encoding, f"image message ({msg.width}x{msg.height})")
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    buffer = _as_bytes(msg.data)
    where = f"{encoding} image {width}x{height} (step {step}, {buffer.size} data bytes)"
    if height == 0 or width == 0 or buffer.size == 0:
        raise ImageConversionError(
            f"empty {where}; the publisher sent no pixels - check the camera driver is streaming"
        )
    row_bytes = width * spec.channels * spec.dtype.itemsize
    if step < row_bytes:
        raise ImageConversionError(
            f"{where}: step is smaller than width*channels*bytes = {row_bytes}; "
            f"the publisher must set step to at least {row_bytes}"
        )
    if buffer.size != height * step:
        raise ImageConversionError(
            f"{where}: data holds {buffer.size} bytes but height*step = {height * step}; "
            "the message is truncated or its step/height are wrong - fix the publisher"
        )
    dtype = spec.dtype.newbyteorder(">" if msg.is_bigendian else "<")
    shape: tuple[int, ...] = (height, width, spec.channels) if spec.channels > 1 else (height, width)
    strides = (step, spec.channels * dtype.itemsize, dtype.itemsize)[: len(shape)]
    pixels = np.ndarray(shape=shape, dtype=dtype, buffer=buffer, strides=strides)
    if not dtype.isnative:
        pixels = pixels.astype(dtype.newbyteorder("="))
    return pixels


def numpy_to_image(
    array: np.ndarray,
    encoding: str,
    header: Any = None,
    msg_factory: Callable[..., Any] | None = None,
) -> Any:
    """Build a sensor_msgs/Image holding a copy of ``array`` with the given encoding.

    ``msg_factory`` is the message class (default rclpy's ``sensor_msgs.msg.Image``; a rosbags
    typestore class works too, and then ``header`` is required because rosbags has no defaults).
    """
    spec = encoding_spec(encoding, f"array of shape {getattr(array, 'shape', None)}")
    pixels = _checked_array(array, encoding, spec)
    factory = msg_factory if msg_factory is not None else _rclpy_class("Image")
    contiguous = np.ascontiguousarray(pixels)
    fields = {
        "height": contiguous.shape[0],
        "width": contiguous.shape[1],
        "encoding": encoding,
        "is_bigendian": int(_is_bigendian(contiguous.dtype)),
        "step": contiguous.shape[1] * spec.channels * contiguous.dtype.itemsize,
        "data": _message_bytes(factory, contiguous, copy=np.may_share_memory(contiguous, array)),
    }
    return _build(factory, fields, header)


def compressed_dimensions(msg: Any) -> tuple[int, int]:
    """(width, height) a sensor_msgs/CompressedImage declares in its header, without decoding.

    A 161 kB PNG can declare 12000x12000 pixels (432 MB decoded): nodes check this size against
    their limits before they decode anything.
    """
    buffer = _as_bytes(msg.data)
    if buffer.size == 0:
        raise ImageConversionError(
            f"compressed image (format {msg.format!r}) has no data; check the publisher"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
            with PILImage.open(io.BytesIO(buffer.tobytes())) as header:
                return int(header.width), int(header.height)
    except PILImage.DecompressionBombError as error:
        raise ImageConversionError(
            f"compressed image (format {msg.format!r}, {buffer.size} bytes) declares a size far beyond "
            f"any camera ({error}); refused without decoding"
        ) from None
    except Exception as error:  # Pillow raises many types for damaged headers; all mean "unreadable"
        raise ImageConversionError(
            f"cannot read the size of compressed image (format {msg.format!r}, {buffer.size} bytes): "
            f"{type(error).__name__}: {error}; it is not a valid jpeg/png - subscribe to the raw image "
            "or fix the compressing publisher"
        ) from None


def check_frame_size(width: int, height: int, max_pixels: int, min_side: int) -> None:
    """Refuse frames no camera sends: more than ``max_pixels`` pixels or a side under ``min_side``.

    A 3x3 or 4096x1 frame stretched to a model's input produces confident nonsense (a knife
    captioned in a 3x3 frame); a 20000x20000 one exhausts memory.
    """
    if width * height > max_pixels:
        raise ImageConversionError(
            f"image of {width}x{height} = {width * height} pixels exceeds max_image_pixels = {max_pixels}; "
            "send camera-sized frames or raise the max_image_pixels parameter"
        )
    if min(width, height) < min_side:
        raise ImageConversionError(
            f"image of {width}x{height} is smaller than min_image_side = {min_side} px on its short side, "
            "too small for the model to see anything; send camera-sized frames or lower min_image_side"
        )


def compressed_to_numpy(msg: Any) -> np.ndarray:
    """Decode a sensor_msgs/CompressedImage (jpeg/png) like cv_bridge: BGR, BGRA or mono.

    Check :func:`compressed_dimensions` first where the sender is not trusted.
    """
    buffer = _as_bytes(msg.data)
    if buffer.size == 0:
        raise ImageConversionError(
            f"compressed image (format {msg.format!r}) has no data; check the publisher"
        )
    try:
        pixels = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
    except cv2.error as error:  # e.g. OpenCV's own size limit on a forged header
        raise ImageConversionError(
            f"cannot decode compressed image (format {msg.format!r}, {buffer.size} bytes): OpenCV refused "
            f"it ({str(error).strip().splitlines()[-1]}); fix the compressing publisher"
        ) from None
    if pixels is None:
        raise ImageConversionError(
            f"cannot decode compressed image (format {msg.format!r}, {buffer.size} bytes); "
            "it is not a valid jpeg/png - subscribe to the raw image or fix the compressing publisher"
        )
    return pixels


def numpy_to_compressed(
    array: np.ndarray,
    fmt: str = "jpeg",
    header: Any = None,
    msg_factory: Callable[..., Any] | None = None,
) -> Any:
    """Encode a BGR (HxWx3) or mono (HxW) uint8 array as a sensor_msgs/CompressedImage.

    ``format`` follows image_transport's convention (``"bgr8; jpeg compressed bgr8"``) so
    compressed_image_transport subscribers and rviz decode it.
    """
    if fmt not in COMPRESSED_FORMATS:
        raise ImageConversionError(
            f"compressed format {fmt!r} is not supported; use one of {COMPRESSED_FORMATS}"
        )
    encoding = "mono8" if getattr(array, "ndim", 0) == 2 else "bgr8"
    pixels = _checked_array(array, encoding, ENCODINGS[encoding])
    ok, encoded = cv2.imencode(".jpg" if fmt == "jpeg" else ".png", pixels)
    if not ok:
        raise ImageConversionError(f"OpenCV could not encode a {pixels.shape} {encoding} array as {fmt}")
    factory = msg_factory if msg_factory is not None else _rclpy_class("CompressedImage")
    fields = {
        "format": f"{encoding}; {fmt} compressed {encoding}",
        "data": _message_bytes(factory, encoded.reshape(-1), copy=False),
    }
    return _build(factory, fields, header)


def check_bgr8(image: Any, what: str, error: type[Exception] = ValueError) -> None:
    """Raise ``error`` unless ``image`` is a non-empty HxWx3 uint8 (BGR) numpy array, the input
    every model here takes; ``what`` names who needs it in the message (``"detect()"``)."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        shape = getattr(image, "shape", None)
        dtype = getattr(image, "dtype", type(image).__name__)
        raise error(
            f"{what} needs an HxWx3 uint8 BGR image, got shape {shape} dtype {dtype}; convert it with "
            "perception.core.images.to_bgr8"
        )
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise error(
            f"{what} got an empty {image.shape[1]}x{image.shape[0]} frame; a camera that sends no "
            "pixels, or a zero-area box"
        )


def to_bgr8(pixels: np.ndarray, encoding: str) -> np.ndarray:
    """Return an HxWx3 uint8 BGR array for a model, from any supported encoding.

    mono16 is scaled by 255/65535 (cv_bridge's mono16 -> bgr8); 16UC1 and 32FC1 hold
    measurements (depth), so their finite values are stretched min..max to 0..255 and
    non-finite pixels become 0.
    """
    spec = encoding_spec(encoding, f"array of shape {getattr(pixels, 'shape', None)}")
    pixels = _checked_array(pixels, encoding, spec)
    if encoding in _TO_BGR:
        code = _TO_BGR[encoding]
        return pixels if code is None else cv2.cvtColor(pixels, code)
    if encoding == "mono16":
        gray = cv2.convertScaleAbs(pixels, alpha=255.0 / 65535.0)
    else:
        gray = _stretch(pixels.astype(np.float32))
    return cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)


def _stretch(values: np.ndarray) -> np.ndarray:
    """Min-max stretch finite values to uint8 0..255; NaN/inf -> 0."""
    finite = np.isfinite(values)
    if not finite.any():
        return np.zeros(values.shape, np.uint8)
    low, high = float(values[finite].min()), float(values[finite].max())
    scale = 255.0 / (high - low) if high > low else 0.0
    stretched = np.where(finite, (values - low) * scale, 0.0)
    return np.rint(stretched).astype(np.uint8)


def encoding_spec(encoding: str, what: str) -> EncodingSpec:
    try:
        return ENCODINGS[encoding]
    except KeyError:
        raise ImageConversionError(
            f"unsupported image encoding {encoding!r} for {what}; supported: {', '.join(ENCODINGS)}. "
            "Publish bgr8 (or another supported encoding), e.g. set the camera driver's "
            "pixel_format/encoding parameter, or republish through an image converter"
        ) from None


def _checked_array(pixels: Any, encoding: str, spec: EncodingSpec) -> np.ndarray:
    """Validate that ``pixels`` is an HxW[xC] array of the encoding's dtype and channel count."""
    if not isinstance(pixels, np.ndarray):
        raise ImageConversionError(f"expected a numpy array for {encoding}, got {type(pixels).__name__}")
    if pixels.ndim == 3 and pixels.shape[2] == 1 and spec.channels == 1:
        pixels = pixels[:, :, 0]
    channels = 1 if pixels.ndim == 2 else (pixels.shape[2] if pixels.ndim == 3 else -1)
    if pixels.size == 0 or channels != spec.channels:
        raise ImageConversionError(
            f"array of shape {pixels.shape} cannot be encoded as {encoding}, which needs a non-empty "
            f"{'HxW' if spec.channels == 1 else f'HxWx{spec.channels}'} array; "
            "convert it (cv2.cvtColor) or pick the encoding matching its channels"
        )
    if pixels.dtype.kind != spec.dtype.kind or pixels.dtype.itemsize != spec.dtype.itemsize:
        raise ImageConversionError(
            f"array dtype {pixels.dtype} does not match encoding {encoding} ({spec.dtype}); "
            f"convert with array.astype(np.{spec.dtype.name}) or pick the encoding matching the dtype"
        )
    return pixels


def _as_bytes(data: Any) -> np.ndarray:
    """A uint8 view of a message's data (bytes, array.array('B'), numpy array or list)."""
    try:
        return np.frombuffer(data, dtype=np.uint8)
    except (TypeError, ValueError):
        return np.asarray(data, dtype=np.uint8).reshape(-1)


def _is_bigendian(dtype: np.dtype) -> bool:
    return dtype.byteorder == ">" or (dtype.byteorder == "=" and sys.byteorder == "big")


def _message_bytes(factory: Callable[..., Any], contiguous: np.ndarray, copy: bool) -> Any:
    """Data in the container each message flavour expects: rclpy array.array, rosbags ndarray."""
    flat = contiguous.reshape(-1).view(np.uint8)
    if _is_rclpy_class(factory):
        data = std_array.array("B")
        data.frombytes(flat)
        return data
    return flat.copy() if copy else flat


def _is_rclpy_class(factory: Callable[..., Any]) -> bool:
    return hasattr(factory, "get_fields_and_field_types")


def _build(factory: Callable[..., Any], fields: dict[str, Any], header: Any) -> Any:
    if header is not None:
        fields["header"] = header
    elif not _is_rclpy_class(factory):
        raise ImageConversionError(
            f"{getattr(factory, '__name__', factory)} needs an explicit header (rosbags messages "
            "have no defaults); pass header=..."
        )
    if not _is_rclpy_class(factory):
        return factory(**fields)
    data = fields.pop("data")
    msg = factory(**fields)
    # The rclpy setter keeps/memcpys an array.array; the constructor copies it element by
    # element (20 ms instead of 0.2 ms for a 1080p frame).
    msg.data = data
    return msg


def _rclpy_class(name: str) -> Callable[..., Any]:
    """sensor_msgs.msg.<name>, imported only when needed so this module works without ROS."""
    try:
        from sensor_msgs import msg
    except ImportError as error:
        raise ImageConversionError(
            f"sensor_msgs is not installed, so no default {name} class; pass msg_factory= "
            "(e.g. a rosbags typestore class) or install ros-sensor-msgs"
        ) from error
    return getattr(msg, name)
