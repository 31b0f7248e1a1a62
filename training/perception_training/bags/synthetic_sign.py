"""Synthetic sign camera bags: one signer signing continuously, and the words as ground truth.

The camera stream (sensor_msgs/Image bgr8, or CompressedImage jpeg) comes from the synthetic
signing world. Each word signed entirely within the recorded frames is one
perception_msgs/SignLabel on ``/ground_truth/signs``: ``label`` the word, ``clip_start`` and
``clip_end`` its exact span, header (and bag time) the stamp of the span's last frame, so a
sign node's output on the same frames can be scored against it.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from perception.bags.qos import Offer, rosbags_qos
from perception.bags.storage import create_writer
from perception.bags.typestore import perception_typestore
from perception.core.images import numpy_to_compressed, numpy_to_image
from perception_training.bags.synthetic import (
    COMPRESSED_TOPIC,
    DEFAULT_START_NS,
    FRAME_ID,
    GROUND_TRUTH_MODEL_ID,
    IMAGE_TOPIC,
    ros_time,
)
from perception_training.synthetic import signing
from perception_training.synthetic.signing_video import continuous_video

LOG = logging.getLogger(__name__)

SIGNS_TOPIC = "/ground_truth/signs"
SIGN_TYPE = "perception_msgs/msg/SignLabel"


def write_synthetic_sign_bag(
    out: str | Path,
    frames: int = 150,
    *,
    fps: float = 15.0,
    seed: int = 0,
    split: str = "test",
    size: tuple[int, int] = (640, 480),
    compressed: bool = False,
    storage: str = "mcap",
    version: int = 9,
    start_ns: int = DEFAULT_START_NS,
    gaps: tuple[float, float] | None = None,
) -> Path:
    """Write ``frames`` frames of one continuous signing video as a rosbag2 bag at ``out``.

    Frame ``i`` is stamped ``start_ns + i / fps``; the video has enough words to fill the
    frames. ``size`` is (width, height); ``gaps`` the idle seconds between signs (default:
    the world's, as in the training videos). Returns the bag folder.
    """
    if frames < 1 or fps <= 0:
        raise ValueError(f"need frames >= 1 and fps > 0, got frames={frames} fps={fps}")
    video = continuous_video(seed, frames, fps, size, gaps or signing.GAP_SECONDS, split)
    last_frame = {_last_frame(w.end_s, fps): w for w in video.words if w.end_s <= (frames - 1) / fps}
    typestore = perception_typestore()
    types = typestore.types
    image_type = "sensor_msgs/msg/CompressedImage" if compressed else "sensor_msgs/msg/Image"
    out = Path(out)
    with create_writer(out, storage, version) as writer:
        offered = [rosbags_qos(Offer())]
        image_topic = COMPRESSED_TOPIC if compressed else IMAGE_TOPIC
        image_connection = writer.add_connection(
            image_topic, image_type, typestore=typestore, offered_qos_profiles=offered
        )
        sign_connection = writer.add_connection(
            SIGNS_TOPIC, SIGN_TYPE, typestore=typestore, offered_qos_profiles=offered
        )
        for index in tqdm(range(frames), desc=f"writing {out.name}", unit="frame", leave=False):
            stamp = start_ns + round(index * 1e9 / fps)
            header = types["std_msgs/msg/Header"](stamp=ros_time(types, stamp), frame_id=FRAME_ID)
            image = video.frame(index)
            message = (
                numpy_to_compressed(image, "jpeg", header, types[image_type])
                if compressed
                else numpy_to_image(image, "bgr8", header, types[image_type])
            )
            writer.write(image_connection, stamp, typestore.serialize_cdr(message, image_type))
            if index in last_frame:
                label = sign_label(types, header, last_frame[index], start_ns)
                writer.write(sign_connection, stamp, typestore.serialize_cdr(label, SIGN_TYPE))
    LOG.info("wrote %d frames and %d signed words to %s", frames, len(last_frame), out)
    return out


def sign_label(types: dict[str, Any], header: Any, word: Any, start_ns: int) -> Any:
    """The ground-truth SignLabel of one signed word (score 1), its span offset by ``start_ns``."""
    return types["perception_msgs/msg/SignLabel"](
        header=header,
        label=word.word,
        score=1.0,
        top_labels=[word.word],
        top_scores=np.ones(1, np.float32),  # rosbags wants numpy for float32[]
        clip_start=ros_time(types, start_ns + round(word.start_s * 1e9)),
        clip_end=ros_time(types, start_ns + round(word.end_s * 1e9)),
        model_id=GROUND_TRUTH_MODEL_ID,
    )


def _last_frame(end_s: float, fps: float) -> int:
    """The last frame at or before ``end_s`` (a hair of slack for float rounding)."""
    return math.floor(end_s * fps + 1e-9)
