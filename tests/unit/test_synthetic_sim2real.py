"""Sim-to-real options: off changes nothing, on changes pixels repeatably, look-alikes stay unlabelled."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from perception_training.ood.real_photos import EVALUATION, RESERVED
from perception_training.synthetic import SceneWorld, photo_textures, write_yolo_dataset
from perception_training.synthetic.cli import main
from perception_training.synthetic.lookalikes import LOOKALIKES
from perception_training.synthetic.sim2real import SIM2REAL_OPTIONS, sim2real_options

SIZE = (160, 120)
# The world's pixels and labels before sim-to-real existed (commit 5266eee), for scenes 0-7 of
# seed 7 at 160x120, kinds mixed, glass, caption, plain in turn.
WORLD_DIGEST = "2c4bedb8db5d8a3376f3e8c2502945102c5bbee33c0984eac7a2a5657a61e2b8"


def _digest(world: SceneWorld) -> str:
    digest = hashlib.sha256()
    for index, kind in enumerate(["mixed", "glass", "caption", "plain"] * 2):
        scene = world.scene(index, "train", kind, SIZE)
        digest.update(scene.image.tobytes())
        digest.update(repr([(o.class_name, o.box, o.color, o.attributes) for o in scene.objects]).encode())
    return digest.hexdigest()


def test_off_by_default_the_world_is_byte_identical_to_before() -> None:
    assert _digest(SceneWorld(7)) == WORLD_DIGEST
    assert _digest(SceneWorld(7, sim2real=())) == WORLD_DIGEST


@pytest.mark.parametrize("option", list(SIM2REAL_OPTIONS))
def test_each_option_is_deterministic_and_changes_pixels(option: str) -> None:
    plain, real, again = SceneWorld(3), SceneWorld(3, [option]), SceneWorld(3, [option])
    for index in range(6):
        before = plain.scene(index, "train", "mixed", SIZE)
        after = real.scene(index, "train", "mixed", SIZE)
        repeat = again.scene(index, "train", "mixed", SIZE)
        assert np.array_equal(after.image, repeat.image) and after.objects == repeat.objects
        assert not np.array_equal(after.image, before.image), (option, index)
        if option == "camera":  # boxes follow the lens; objects keep their order, some may leave the frame
            remaining = iter(o.class_name for o in before.objects)
            assert all(o.class_name in remaining for o in after.objects)
        elif option == "materials":  # same objects, same colour words; shapes (so boxes) vary
            assert [(o.class_name, o.color) for o in after.objects] == [
                (o.class_name, o.color) for o in before.objects
            ]
        else:  # drawn behind the objects with their own random numbers: labels untouched
            assert after.objects == before.objects


def test_lookalikes_are_never_labelled_knife() -> None:
    world, plain = SceneWorld(5, ["lookalikes"]), SceneWorld(5)
    for index in range(12):
        scene = world.scene(index, "test", "mixed", SIZE, exclude=["knife"])
        assert "knife" not in {o.class_name for o in scene.objects}
        assert scene.objects == plain.scene(index, "test", "mixed", SIZE, exclude=["knife"]).objects


@pytest.mark.parametrize("name", sorted(LOOKALIKES))
def test_each_lookalike_is_long_and_thin_like_a_knife(name: str) -> None:
    draw, (low, high) = LOOKALIKES[name]
    drawn = draw(np.random.default_rng(0), 100.0)
    assert drawn.attributes == {"lookalike": name}
    ys, xs = np.nonzero(drawn.sprite.alpha > 0.5)
    spread = np.linalg.eigvalsh(np.cov(np.stack([xs, ys])))
    assert spread[1] / spread[0] > 8, "a look-alike must be elongated"
    assert 0.1 <= low < high <= 0.5


def test_materials_keep_each_object_standing_where_it_stood() -> None:
    world, plain = SceneWorld(4, ["materials"]), SceneWorld(4)
    changed = 0
    for index in range(8):
        after = world.scene(index, "train", "mixed", (320, 240)).objects
        before = plain.scene(index, "train", "mixed", (320, 240)).objects
        for new, old in zip(after, before, strict=True):
            (x0, y0, x1, y1), (u0, v0, u1, v1) = new.box, old.box
            if v1 >= 240 or u0 <= 0 or u1 >= 320:
                continue  # cut by the frame edge: the visible part's centre may move
            assert abs((x0 + x1) / 2 - (u0 + u1) / 2) <= 2 and abs(y1 - v1) <= 2
            assert 0.8 <= (x1 - x0) / (u1 - u0) <= 1.25 and abs((y1 - y0) - (v1 - v0)) <= 2
            changed += new.box != old.box
    assert changed > 0


def test_materials_dress_the_lookalikes_as_well() -> None:
    from perception_training.synthetic.background import draw_background

    background = draw_background(np.random.default_rng(1), 320, 240)
    painted = []
    for dressed in (False, True):
        canvas = background.image.copy()
        SceneWorld._draw_lookalikes(np.random.default_rng(2), canvas, background, [], dressed)
        assert not np.array_equal(canvas, background.image)
        painted.append(canvas)
    assert not np.array_equal(*painted)


def test_material_shading_keeps_a_sprite_within_its_coverage() -> None:
    from perception_training.synthetic.materials import with_material
    from perception_training.synthetic.objects import OBJECT_TYPES

    rng = np.random.default_rng(0)
    for object_type in OBJECT_TYPES.values():
        sprite = with_material(rng, object_type.draw(rng, 80.0).sprite)
        assert sprite.color.shape[:2] == sprite.alpha.shape and sprite.alpha.max() > 0.5
        assert np.all(sprite.color >= 0) and np.all(sprite.color <= 255.0 * sprite.alpha[..., None] + 1e-3)


def test_camera_boxes_stay_inside_the_image_and_plain_scenes_are_untouched() -> None:
    world = SceneWorld(2, list(SIM2REAL_OPTIONS))
    for index in range(8):
        for obj in world.scene(index, "train", "glass", SIZE).objects:
            x0, y0, x1, y1 = obj.box
            assert 0 <= x0 < x1 <= SIZE[0] and 0 <= y0 < y1 <= SIZE[1]
    plain = world.scene(0, "train", "plain", SIZE)
    assert np.array_equal(plain.image, SceneWorld(2).scene(0, "train", "plain", SIZE).image)


def test_textures_come_only_from_the_photo_kept_for_training() -> None:
    assert photo_textures.PHOTO in RESERVED and photo_textures.PHOTO not in EVALUATION


def test_missing_texture_photo_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from perception_training.ood import real_photos

    monkeypatch.setitem(real_photos.PHOTOS, "grace_hopper", ("matplotlib", "mpl-data/sample_data/absent.jpg"))
    photo_textures.texture_photo.cache_clear()
    try:
        with pytest.raises(FileNotFoundError, match="leave 'photos' out of --sim2real"):
            SceneWorld(0, ["photos"]).scene(0, "train", "mixed", SIZE)
    finally:
        photo_textures.texture_photo.cache_clear()


def test_unknown_options_are_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown sim-to-real option\(s\) \['fog'\]"):
        SceneWorld(0, ["fog"])
    assert sim2real_options(["camera", "photos"]) == ("photos", "camera")


def test_yolo_writer_records_the_options_only_when_on(tmp_path: Path) -> None:
    write_yolo_dataset(tmp_path / "off", seed=1, counts={"train": 1}, size=SIZE)
    assert "sim2real" not in json.loads((tmp_path / "off" / "synthetic.json").read_text())
    main(
        [
            "yolo",
            "--out",
            str(tmp_path / "on"),
            "--train",
            "1",
            "--val",
            "0",
            "--test",
            "0",
            "--size",
            "160x120",
            "--sim2real",
        ]
    )
    info = json.loads((tmp_path / "on" / "synthetic.json").read_text())
    assert info["sim2real"] == list(SIM2REAL_OPTIONS)
