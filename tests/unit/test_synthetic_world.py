"""The synthetic world: determinism, split separation, exact boxes, include/exclude."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from perception_training.synthetic import DETECTOR_CLASSES, OBJECT_TYPES, SceneWorld
from perception_training.synthetic.contact_sheet import annotate, write_contact_sheet

SIZE = (320, 240)


def test_same_arguments_give_identical_scene() -> None:
    a = SceneWorld(7).scene(3, "train", "mixed", SIZE)
    b = SceneWorld(7).scene(3, "train", "mixed", SIZE)
    assert np.array_equal(a.image, b.image)
    assert a.objects == b.objects


def test_splits_seeds_and_indices_give_different_scenes() -> None:
    world = SceneWorld(0)
    images = [
        world.scene(i, split, "mixed", SIZE).image for split in ("train", "val", "test") for i in range(3)
    ]
    images.append(SceneWorld(1).scene(0, "train", "mixed", SIZE).image)
    for i in range(len(images)):
        for j in range(i + 1, len(images)):
            assert not np.array_equal(images[i], images[j]), (i, j)


def test_scene_image_format_and_object_fields() -> None:
    scene = SceneWorld(0).scene(0, "val", "mixed", SIZE)
    assert scene.image.shape == (SIZE[1], SIZE[0], 3) and scene.image.dtype == np.uint8
    assert (scene.seed, scene.split, scene.index, scene.kind) == (0, "val", 0, "mixed")
    assert 1 <= len(scene.objects) <= 6
    for obj in scene.objects:
        assert obj.class_name in DETECTOR_CLASSES
        assert obj.color


@pytest.mark.parametrize("kind", ["mixed", "glass"])
def test_boxes_lie_inside_the_image(kind: str) -> None:
    world = SceneWorld(3)
    for index in range(15):
        scene = world.scene(index, "train", kind, SIZE)
        for obj in scene.objects:
            x0, y0, x1, y1 = obj.box
            assert 0 <= x0 < x1 <= SIZE[0] and 0 <= y0 < y1 <= SIZE[1]


@pytest.mark.parametrize("object_type", sorted(OBJECT_TYPES))
def test_box_is_tight_around_drawn_pixels(object_type: str) -> None:
    """On a flat background every changed pixel is inside the box and each box edge touches one."""
    world = SceneWorld(0)
    for index in range(3):
        scene = world.scene(index, "train", "plain", SIZE, include=[object_type])
        (obj,) = scene.objects
        assert obj.class_name == OBJECT_TYPES[object_type].class_name
        background = scene.image[0, 0] if obj.box[:2] != (0.0, 0.0) else scene.image[-1, -1]
        drawn = np.any(np.abs(scene.image.astype(int) - background.astype(int)) > 0, axis=2)
        ys, xs = np.nonzero(drawn)
        assert ys.size > 0
        assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == tuple(int(v) for v in obj.box)


def test_include_forces_and_exclude_forbids_classes() -> None:
    world = SceneWorld(0)
    for index in range(10):
        with_knife = world.scene(index, "train", "mixed", SIZE, include=["knife", "person"])
        names = [o.class_name for o in with_knife.objects]
        assert "knife" in names and "person" in names
        without = world.scene(index, "train", "mixed", SIZE, exclude=["knife", "cup"])
        assert not {"knife", "cup"} & {o.class_name for o in without.objects}


def test_include_object_type_sets_glass_type_truth() -> None:
    scene = SceneWorld(0).scene(0, "train", "glass", SIZE, include=["soju_glass", "beer_glass"])
    truth = {o.attributes.get("glass_type"): o.class_name for o in scene.objects}
    assert truth["soju_glass"] == "wine glass" and truth["beer_glass"] == "cup"


def test_glass_scenes_are_dominated_by_glasses() -> None:
    world = SceneWorld(0)
    counts = [
        sum("glass_type" in o.attributes for o in world.scene(i, "train", "glass", SIZE).objects)
        for i in range(10)
    ]
    assert min(counts) >= 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "underwater"}, "unknown scene kind"),
        ({"include": ["giraffe"]}, "unknown object name"),
        ({"include": ["knife"], "exclude": ["knife"]}, "contradict"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SceneWorld(0).scene(0, size=SIZE, **kwargs)


def test_contact_sheet_tiles_annotated_scenes(tmp_path: Path) -> None:
    path = write_contact_sheet(tmp_path / "sheet.png", seed=0, columns=3, rows=2, size=(96, 64))
    sheet = cv2.imread(str(path))
    assert sheet.shape == (2 * 64, 3 * 96, 3)
    first = SceneWorld(0).scene(0, "train", "mixed", (96, 64))
    assert np.array_equal(sheet[:64, :96], annotate(first))
    assert not np.array_equal(annotate(first), first.image)
