"""How a video model wants its clips, and a clip's preprocessing in numpy, kept free of torch.

:mod:`perception.core.video_models` (the networks, torch) re-exports these; the sign node and
the ONNX Runtime sign recognizer use them without importing torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import cv2
import numpy as np

KINETICS_MEAN = (0.45, 0.45, 0.45)
KINETICS_STD = (0.225, 0.225, 0.225)


class VideoModelError(ValueError):
    """An unknown model name, a bad class count, or a clip the model cannot take."""


@dataclass(frozen=True)
class VideoModelSpec:
    """How a video model wants its clips: frames, square crop, Kinetics sampling, normalisation.

    ``sampling_rate`` is the PyTorchVideo model zoo's frame stride at 30 fps, kept as a record
    of how the architecture was meant to see time; sign clips are sampled uniformly over a
    segment instead (``sample_indices``).
    """

    name: str
    num_frames: int
    crop_size: int
    sampling_rate: int
    mean: tuple[float, float, float] = KINETICS_MEAN
    std: tuple[float, float, float] = KINETICS_STD
    fixed_size: bool = False  # True: the network only accepts exactly num_frames x crop_size

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (for artifact metadata and checkpoint hyper-parameters)."""
        return {spec.name: _plain(getattr(self, spec.name)) for spec in fields(self)}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> VideoModelSpec:
        """Rebuild from :meth:`to_dict` output, ignoring keys this version does not know."""
        known = {spec.name for spec in fields(cls)}
        kept = {key: value for key, value in values.items() if key in known}
        for key in ("mean", "std"):
            if key in kept:
                kept[key] = tuple(float(v) for v in kept[key])
        return cls(**kept)


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def sample_indices(available: int, num_frames: int) -> list[int]:
    """``num_frames`` frame indices spread evenly over ``available`` frames (repeats if fewer)."""
    if available < 1:
        raise VideoModelError("a clip needs at least one frame")
    return np.linspace(0, available - 1, num_frames).round().astype(int).tolist()


def downscale(image: np.ndarray, short_side: int) -> np.ndarray:
    """A copy of HxWx3 ``image`` whose short side is at most ``short_side`` px (area filter, aspect kept).

    The sign node shrinks each kept camera frame with it, and training shrinks decoded video
    frames with it, so both feed the model frames filtered the same way.
    """
    height, width = image.shape[:2]
    scale = short_side / min(height, width)
    if scale >= 1.0:
        return image.copy()  # the frame may be a view of the message buffer
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def clip_array(frames: Sequence[np.ndarray], spec: VideoModelSpec, bgr: bool = True) -> np.ndarray:
    """The evaluation transform in numpy: HxWx3 uint8 frames -> the model's (1, 3, T, S, S) float32.

    ``num_frames`` frames are sampled evenly; each is resized so its short side is the crop size
    (torchvision's size rule; unchanged when it already is, as the sign node's frames are, so the
    result then equals ``video_models.preprocess_clip`` exactly; otherwise OpenCV's linear filter,
    area filter when shrinking, stands in for torchvision's antialiased one), centre-cropped,
    scaled to [0, 1] and normalised.
    """
    if not len(frames):
        raise VideoModelError("a clip needs at least one frame")
    picked = [frames[i] for i in sample_indices(len(frames), spec.num_frames)]
    crops = np.stack([_square(frame, spec.crop_size) for frame in picked])
    if bgr:
        crops = crops[..., ::-1]
    scaled = crops.astype(np.float32) / np.float32(255.0)
    normalised = (scaled - np.asarray(spec.mean, np.float32)) / np.asarray(spec.std, np.float32)
    return np.ascontiguousarray(normalised.transpose(3, 0, 1, 2)[None])


def _square(frame: np.ndarray, size: int) -> np.ndarray:
    """``frame`` resized to short side ``size`` then its centre ``size`` x ``size`` square."""
    if frame.ndim != 3 or frame.shape[-1] != 3 or frame.dtype != np.uint8:
        raise VideoModelError(f"expected uint8 frames of shape (H, W, 3), got {frame.shape} {frame.dtype}")
    height, width = frame.shape[:2]
    short, long = min(height, width), max(height, width)
    new_long = int(size * long / short)
    new_size = (size, new_long) if height <= width else (new_long, size)  # (height, width)
    if new_size != (height, width):
        shrink = cv2.INTER_AREA if size < short else cv2.INTER_LINEAR
        frame = cv2.resize(frame, new_size[::-1], interpolation=shrink)
    top = round((new_size[0] - size) / 2.0)
    left = round((new_size[1] - size) / 2.0)
    return frame[top : top + size, left : left + size]
