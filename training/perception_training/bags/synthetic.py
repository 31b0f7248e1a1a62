"""Self-contained camera bags from the synthetic world: frames plus their ground truth.

A bag holds the camera stream (sensor_msgs/Image bgr8, or CompressedImage jpeg) and, with the
SAME header on every message of a frame, the exact ground truth as perception_msgs:
detections, glass types, and an English caption when the world offers captions. End-to-end
tests replay it through the nodes and score what comes back against what went in.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from tqdm import tqdm

import perception_training.synthetic as synthetic_module
from perception.bags.qos import Offer, rosbags_qos
from perception.bags.storage import create_writer
from perception.bags.typestore import perception_typestore
from perception.bringup.graph import DEFAULT_CAMERA_TOPIC
from perception.core.images import numpy_to_compressed, numpy_to_image
from perception.nodes.topics import COMPRESSED_SUFFIX

LOG = logging.getLogger(__name__)

IMAGE_TOPIC = DEFAULT_CAMERA_TOPIC
COMPRESSED_TOPIC = DEFAULT_CAMERA_TOPIC + COMPRESSED_SUFFIX
DETECTIONS_TOPIC = "/ground_truth/detections"
GLASSES_TOPIC = "/ground_truth/glasses"
GROUND_TRUTH_CAPTION_TOPIC = "/ground_truth/caption"
FRAME_ID = "camera"
GROUND_TRUTH_MODEL_ID = "ground_truth"
DEFAULT_START_NS = 1_767_225_600 * 10**9  # 2026-01-01T00:00:00Z: fixed, so bags are reproducible


def write_synthetic_bag(
    out: str | Path,
    frames: int = 30,
    *,
    fps: float = 10.0,
    seed: int = 0,
    split: str = "test",
    kind: str = "mixed",
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    size: tuple[int, int] = (640, 480),
    compressed: bool = False,
    storage: str = "mcap",
    version: int = 9,
    start_ns: int = DEFAULT_START_NS,
) -> Path:
    """Write scenes ``0..frames-1`` of ``SceneWorld(seed)`` as a rosbag2 bag at ``out``.

    Frame ``i`` is stamped ``start_ns + i / fps`` (header and bag time). ``size`` is
    (width, height). Returns the bag folder.
    """
    if frames < 1 or fps <= 0:
        raise ValueError(f"need frames >= 1 and fps > 0, got frames={frames} fps={fps}")
    synthetic = synthetic_world()
    world = synthetic.SceneWorld(seed)
    captions = getattr(synthetic, "captions", None)
    glass_types = tuple(getattr(synthetic, "GLASS_TYPES", ()))
    typestore = perception_typestore()
    types = typestore.types
    topics = {
        "image": (COMPRESSED_TOPIC, "sensor_msgs/msg/CompressedImage")
        if compressed
        else (IMAGE_TOPIC, "sensor_msgs/msg/Image"),
        "detections": (DETECTIONS_TOPIC, "perception_msgs/msg/DetectionArray"),
        "glasses": (GLASSES_TOPIC, "perception_msgs/msg/GlassClassificationArray"),
    }
    if captions is not None:
        topics["caption"] = (GROUND_TRUTH_CAPTION_TOPIC, "perception_msgs/msg/Caption")
    out = Path(out)
    with create_writer(out, storage, version) as writer:
        offered = [rosbags_qos(Offer())]
        connections = {
            key: writer.add_connection(topic, msgtype, typestore=typestore, offered_qos_profiles=offered)
            for key, (topic, msgtype) in topics.items()
        }
        for index in tqdm(range(frames), desc=f"writing {out.name}", unit="frame", leave=False):
            scene = world.scene(index, split, kind, size, include, exclude)
            stamp = start_ns + round(index * 1e9 / fps)
            header = types["std_msgs/msg/Header"](stamp=ros_time(types, stamp), frame_id=FRAME_ID)
            messages = {
                "image": numpy_to_compressed(scene.image, "jpeg", header, types[topics["image"][1]])
                if compressed
                else numpy_to_image(scene.image, "bgr8", header, types[topics["image"][1]]),
                **ground_truth_messages(types, header, scene, glass_types),
            }
            if captions is not None:
                messages["caption"] = types["perception_msgs/msg/Caption"](
                    header=header,
                    text=captions(scene, "en")[0],
                    score=1.0,
                    language="en",
                    model_id=GROUND_TRUTH_MODEL_ID,
                )
            for key, message in messages.items():
                msgtype = topics[key][1]
                writer.write(connections[key], stamp, typestore.serialize_cdr(message, msgtype))
    LOG.info("wrote %d frames (%s) to %s", frames, ", ".join(t for t, _ in topics.values()), out)
    return out


def ground_truth_messages(
    types: dict[str, Any], header: Any, scene: Any, glass_types: Sequence[str]
) -> dict[str, Any]:
    """DetectionArray (score 1.0) and GlassClassificationArray for one scene, as rosbags messages.

    ``glass_type_id`` indexes ``glass_types`` (the glass classifier's classes), -1 when the
    object's glass type is not one of them.
    """
    from perception.core.glass import is_fragile  # imports torch: only when writing glass truth

    height, width = scene.image.shape[:2]
    detections = [
        types["perception_msgs/msg/Detection"](
            class_id=obj.class_id,
            class_name=obj.class_name,
            score=1.0,
            x_min=obj.box[0],
            y_min=obj.box[1],
            x_max=obj.box[2],
            y_max=obj.box[3],
            track_id=-1,
        )
        for obj in scene.objects
    ]
    glasses = [
        types["perception_msgs/msg/GlassClassification"](
            detection=detection,
            glass_type=obj.attributes["glass_type"],
            glass_type_id=_index(glass_types, obj.attributes["glass_type"]),
            score=1.0,
            fragile=is_fragile(obj.attributes["glass_type"]),
        )
        for obj, detection in zip(scene.objects, detections, strict=True)
        if "glass_type" in obj.attributes
    ]
    return {
        "detections": types["perception_msgs/msg/DetectionArray"](
            header=header,
            image_width=width,
            image_height=height,
            model_id=GROUND_TRUTH_MODEL_ID,
            detections=detections,
        ),
        "glasses": types["perception_msgs/msg/GlassClassificationArray"](
            header=header, model_id=GROUND_TRUTH_MODEL_ID, glasses=glasses
        ),
    }


def _index(names: Sequence[str], name: str) -> int:
    return names.index(name) if name in names else -1


def ros_time(types: dict[str, Any], stamp_ns: int) -> Any:
    """A builtin_interfaces/Time of the typestore ``types`` for ``stamp_ns``."""
    sec, nanosec = divmod(stamp_ns, 10**9)
    return types["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec)


def synthetic_world() -> ModuleType:
    """The synthetic world the bags are drawn from (tests swap in a variant here)."""
    return synthetic_module
