"""In-domain images of each model family, regenerated from the synthetic world.

The training images come back as the trainers' writers drew them (same seed, split, kind, size,
and JPEG round trip where the writer stored JPEG), but always without the world's sim-to-real
options (``_plain_world`` says why); held-out images are drawn the
same way from a split no writer uses (or another seed) at the camera's size, so no model ever
saw them: "in domain" is the model's own training distribution, not the whole world (a
captioner trained on the world's caption scenes has not seen its cluttered "mixed" ones). A
sign model's images are clips of the signing world (``sign_clips``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from perception.core.sign import SIGN_KIND
from perception_training.ood.sign_clips import SIGN_CLIPS, SIGN_GENERATOR, sign_clips, video_sizes
from perception_training.synthetic import GLASS_TYPES, SceneWorld
from perception_training.synthetic.writers.glass import glass_crop
from perception_training.synthetic.writers.yolo import DEFAULT_KINDS, JPEG_QUALITY, scene_spec

CAMERA_SIZE = (640, 480)  # the frames the nodes see (bags, the demo)
WIDE_CAMERA_SIZE = (1280, 720)  # a 720p camera, the other common robot camera
WIDE_INPUT_SIZE = 640  # the detector input size docs/detector.md recommends for 720p frames
CALIBRATION_SPLIT = "ood-calibration"  # a split no writer or trainer uses
GLASS_CROPS = "glass crops"  # the glass classifier's images: write_glass_crops' crops of glass scenes
# what the synthetic writers record as their dataset's generator (the detector trainer names its writer)
GENERATORS = (
    "perception_training.synthetic",
    "perception_training.synthetic.write_yolo_dataset",
    SIGN_GENERATOR,
)


def jpeg_round_trip(image: np.ndarray, quality: int = JPEG_QUALITY) -> np.ndarray:
    """The image as a writer stored it and a trainer read it back."""
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"could not JPEG-encode an image of shape {image.shape}")
    return cv2.imdecode(encoded, cv2.IMREAD_COLOR)


@dataclass(frozen=True)
class View:
    """A camera frame size and the network input size a model runs at (None: the model's own)."""

    camera: tuple[int, int] = CAMERA_SIZE
    input_size: int | None = None

    def to_metadata(self) -> dict[str, Any]:
        return {"camera": list(self.camera), "input_size": self.input_size}


def views(metadata: Mapping[str, Any]) -> tuple[View, ...]:
    """The views the domain statistics cover. A detector letterboxes the frame at its input size,
    so its features move with the camera's aspect and the size objects take in the input: fitted
    on 640x480 frames at 416 px alone, the shipped detector flagged 55-66 % of in-domain 1280x720
    frames (docs/ood.md), so its statistics span 4:3 and 16:9 frames at its own input size and
    at 640. The other models resize every frame to one input and see a single view."""
    if metadata["kind"] != "detector":
        return (View(),)
    own = int(metadata["input_size"])
    return tuple(
        View(camera, size)
        for camera in (CAMERA_SIZE, WIDE_CAMERA_SIZE)
        for size in dict.fromkeys((own, WIDE_INPUT_SIZE))
    )


def training_kinds(metadata: Mapping[str, Any]) -> tuple[str, ...]:
    """The scene kinds the artifact was trained on (glass crops for the glass classifier)."""
    kind = metadata["kind"]
    if kind == "detector":
        return tuple(metadata["dataset"].get("kinds", DEFAULT_KINDS))
    if kind == "captioner":
        return (metadata["dataset"].get("kind", "caption"),)
    if kind == "classifier":
        _require_glass(metadata["dataset"])
        return (GLASS_CROPS,)
    if kind == SIGN_KIND:
        _require_signing(metadata["dataset"])
        return (SIGN_CLIPS,)
    raise ValueError(f"no training images for a {kind!r} artifact")


def regenerable(metadata: Mapping[str, Any]) -> bool:
    """Whether the artifact was trained on images of the synthetic world that can be drawn again
    (a user's data set, or a synthetic set of other classes, cannot be)."""
    if metadata.get("dataset", {}).get("generator") not in GENERATORS:
        return False
    try:
        training_kinds(metadata)
    except ValueError:
        return False
    return True


def training_images(
    metadata: Mapping[str, Any], count: int, size: tuple[int, int] | None = None
) -> Iterator[np.ndarray]:
    """Up to ``count`` of the images (a sign model's: clips) the artifact described by
    ``metadata`` was trained on; with ``size``, the same scenes drawn at that frame size."""
    dataset = metadata["dataset"]
    if training_kinds(metadata) == (SIGN_CLIPS,):
        return sign_clips(metadata, int(dataset["seed"]), "train", count, int(dataset["videos"]))
    return _training_scenes(metadata, count, size or tuple(dataset["size"]))


def _training_scenes(metadata: Mapping[str, Any], count: int, size: tuple[int, int]) -> Iterator[np.ndarray]:
    dataset = metadata["dataset"]
    world = _plain_world(int(dataset["seed"]))
    kinds = training_kinds(metadata)
    for index in range(min(count, int(dataset["counts"]["train"]))):
        image = _image(world, "train", index, kinds[index % len(kinds)], size)
        yield image if kinds == (GLASS_CROPS,) else jpeg_round_trip(image)


def held_out_images(
    metadata: Mapping[str, Any],
    seed: int,
    split: str,
    count: int,
    kinds: Sequence[str] = (),
    size: tuple[int, int] = CAMERA_SIZE,
) -> Iterator[np.ndarray]:
    """``count`` camera-size (or ``size``) images of ``split`` drawn like the training images (or
    of ``kinds``); a sign model's clips at its training videos' sizes."""
    kinds = tuple(kinds) or training_kinds(metadata)
    if kinds == (SIGN_CLIPS,):
        return sign_clips(metadata, seed, split, count)
    world = _plain_world(seed)
    return (_image(world, split, index, kinds[index % len(kinds)], size) for index in range(count))


def sizes(metadata: Mapping[str, Any]) -> tuple[list[Any], list[Any]]:
    """The (width, height) of the training images and of the held-out ones, as calibrations record
    them (a sign model's: its training videos' sizes, for both)."""
    if training_kinds(metadata) == (SIGN_CLIPS,):
        videos = [list(size) for size in video_sizes(metadata["dataset"])]
        return videos, videos
    return list(metadata["dataset"]["size"]), list(CAMERA_SIZE)


def _plain_world(seed: int) -> SceneWorld:
    """The world of ``seed`` without sim-to-real options, whatever the artifact's data set used.

    Those options are training aids (photo textures, look-alikes, a camera model) that make a
    model more robust, not the domain its figures are measured on; with them in the statistics a
    detector scored 26 of 44 real-photo frames in domain, without them 2 (docs/ood.md).
    """
    return SceneWorld(seed)


def _image(world: SceneWorld, split: str, index: int, kind: str, size: tuple[int, int]) -> np.ndarray:
    if kind == GLASS_CROPS:
        return glass_crop(world, split, index, GLASS_TYPES[index % len(GLASS_TYPES)], size)
    scene_kind, include = scene_spec(kind)
    return world.scene(index, split, scene_kind, size, include=include).image


def _require_signing(dataset: Mapping[str, Any]) -> None:
    if dataset.get("generator") != SIGN_GENERATOR:
        raise ValueError(
            f"only a sign model trained on the signing world ({SIGN_GENERATOR}) can have its clips "
            f"regenerated, not one trained on {dataset.get('root') or dataset.get('train')}"
        )


def _require_glass(dataset: Mapping[str, Any]) -> None:
    if tuple(dataset.get("classes", ())) != GLASS_TYPES:
        raise ValueError(
            f"only the glass classifier's training crops can be regenerated (classes {list(GLASS_TYPES)}), "
            f"not {dataset.get('classes')}"
        )
