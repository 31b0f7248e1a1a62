"""Camera bags of real photos (no ground truth): what the stack does with frames unlike the
synthetic world it was trained on (tests/e2e/test_real_photo_hazard_e2e.py, docs/ood.md)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from perception.bags.qos import Offer, rosbags_qos
from perception.bags.storage import create_writer
from perception.bags.typestore import perception_typestore
from perception.core.images import numpy_to_image
from perception_training.bags.synthetic import DEFAULT_START_NS, FRAME_ID, IMAGE_TOPIC, ros_time


def write_image_bag(
    out: str | Path,
    images: Sequence[np.ndarray],
    *,
    fps: float = 10.0,
    storage: str = "mcap",
    version: int = 9,
    start_ns: int = DEFAULT_START_NS,
) -> Path:
    """Write BGR ``images`` as the camera stream (sensor_msgs/Image bgr8), frame ``i`` stamped
    ``start_ns + i / fps``, to a rosbag2 bag at ``out``; returns the bag folder."""
    if not images or fps <= 0:
        raise ValueError(f"need at least one image and fps > 0, got {len(images)} images, fps={fps}")
    typestore = perception_typestore()
    types = typestore.types
    msgtype = "sensor_msgs/msg/Image"
    out = Path(out)
    with create_writer(out, storage, version) as writer:
        connection = writer.add_connection(
            IMAGE_TOPIC, msgtype, typestore=typestore, offered_qos_profiles=[rosbags_qos(Offer())]
        )
        for index, image in enumerate(images):
            stamp = start_ns + round(index * 1e9 / fps)
            header = types["std_msgs/msg/Header"](stamp=ros_time(types, stamp), frame_id=FRAME_ID)
            message = numpy_to_image(image, "bgr8", header, types[msgtype])
            writer.write(connection, stamp, typestore.serialize_cdr(message, msgtype))
    return out
