"""Decoded camera frames, and a received message whose frame is decoded at most once.

In one process (``perception.bringup.container``) the camera is subscribed once and every
image node's worker gets the same ``SharedImage``: the first worker that needs the pixels
decodes them (a JPEG costs 2-18 ms a frame, docs/nodes.md), the others reuse the result. The
frame is made read-only, so no node can change what another node sees. A node in its own
process wraps each message it receives the same way, so both modes run the same code.
No rclpy import beyond the message classes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from perception.core.images import ImageConversionError, compressed_to_numpy, image_to_numpy, to_bgr8

# compressed_to_numpy returns what cv2.imdecode gives: BGR, BGRA or mono (8 or 16 bit).
_DECODED_ENCODINGS = {
    (1, np.uint8): "mono8",
    (1, np.uint16): "mono16",
    (3, np.uint8): "bgr8",
    (4, np.uint8): "bgra8",
}


@dataclass(frozen=True)
class Frame:
    """A decoded input frame: BGR pixels (read-only view possible) and the source header."""

    bgr: np.ndarray
    header: Header
    encoding: str

    @property
    def width(self) -> int:
        return int(self.bgr.shape[1])

    @property
    def height(self) -> int:
        return int(self.bgr.shape[0])


def decode_image(msg: Image | CompressedImage) -> Frame:
    """BGR pixels of a raw or compressed image message; ImageConversionError if it is bad."""
    if isinstance(msg, CompressedImage):
        pixels = compressed_to_numpy(msg)
        channels = 1 if pixels.ndim == 2 else pixels.shape[2]
        encoding = _DECODED_ENCODINGS.get((channels, pixels.dtype.type), "")
        if not encoding:
            raise ImageConversionError(
                f"compressed image decoded to {pixels.shape} {pixels.dtype}; expected 8-bit BGR/BGRA or mono"
            )
    else:
        encoding = str(msg.encoding)
        pixels = image_to_numpy(msg)
    return Frame(bgr=to_bgr8(pixels, encoding), header=msg.header, encoding=encoding)


class SharedImage:
    """One camera message plus its lazily decoded, read-only ``Frame`` (thread-safe)."""

    def __init__(self, msg: Image | CompressedImage) -> None:
        self.msg = msg
        self._lock = threading.Lock()
        self._frame: Frame | None = None
        self._error: ImageConversionError | None = None

    @property
    def header(self) -> Header:
        return self.msg.header

    @property
    def nbytes(self) -> int:
        """Bytes of the message's pixel data (what a cache of images holds)."""
        return len(self.msg.data)

    def frame(self) -> Frame:
        """The decoded frame; ImageConversionError for a bad message (decoded once, raised every call)."""
        with self._lock:
            if self._frame is None and self._error is None:
                try:
                    frame = decode_image(self.msg)
                except ImageConversionError as error:
                    self._error = error
                else:
                    frame.bgr.flags.writeable = False
                    self._frame = frame
            if self._error is not None:
                raise self._error
            return self._frame
