"""A mini Tiny-ImageNet-200: 64x64 single-object images in the exact public layout.

Layout under ``root`` (as in tiny-imagenet-200.zip)::

    wnids.txt                                one wnid per line
    words.txt                                wnid<TAB>words
    train/<wnid>/images/<wnid>_<i>.JPEG
    train/<wnid>/<wnid>_boxes.txt            file<TAB>x0<TAB>y0<TAB>x1<TAB>y1
    val/images/val_<i>.JPEG
    val/val_annotations.txt                  file<TAB>wnid<TAB>x0<TAB>y0<TAB>x1<TAB>y1
    test/images/test_<i>.JPEG

Boxes are inclusive pixel coordinates, like the original's. The original withholds test
labels; ours are written to ``test/test_annotations.txt`` (same columns as val) so a model can
be scored on this copy.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from perception_training.synthetic import objects, shapes
from perception_training.synthetic.background import draw_background
from perception_training.synthetic.effects import camera_effects
from perception_training.synthetic.objects import DrawnObject
from perception_training.synthetic.painter import composite
from perception_training.synthetic.world import SceneWorld
from perception_training.synthetic.writers.files import fresh_dir

IMAGE_SIZE = 64
# (ImageNet wnid, words, drawer); the first n_classes are used.
CATEGORIES: tuple[tuple[str, str, Callable[[np.random.Generator, float], DrawnObject]], ...] = (
    ("n03063599", "coffee mug", objects.draw_mug),
    ("n02823428", "beer bottle", objects.draw_bottle),
    ("n04592099", "wineglass", objects.draw_wine_glass),
    ("n02823750", "beer glass", objects.draw_beer_glass),
    ("n04206225", "shot glass, jigger, pony", objects.draw_soju_glass),
    ("n03623556", "knife", objects.draw_knife),
    ("n00007846", "person, individual, someone, somebody, mortal, soul", objects.draw_person),
    ("n04254680", "soccer ball", shapes.draw_soccer_ball),
    ("n02708093", "analog clock", shapes.draw_analog_clock),
    ("n04507155", "umbrella", shapes.draw_umbrella),
    ("n06874185", "traffic light, traffic signal, stoplight", shapes.draw_traffic_light),
    ("n07747607", "orange", shapes.draw_orange),
    ("n07753592", "banana", shapes.draw_banana),
)


def object_image(
    world: SceneWorld, category: int, split: str, index: int
) -> tuple[np.ndarray, tuple[int, ...]]:
    """One 64x64 BGR image of ``CATEGORIES[category]`` and its inclusive box (x0, y0, x1, y1)."""
    rng = world.rng("tiny-imagenet", split, category, index)
    canvas = draw_background(rng, IMAGE_SIZE, IMAGE_SIZE).image.copy()
    sprite = CATEGORIES[category][2](rng, IMAGE_SIZE * rng.uniform(0.5, 0.85)).sprite
    longest = max(sprite.width, sprite.height)
    if longest > IMAGE_SIZE * 0.95:  # rotated knives and wide mugs can outgrow the frame
        sprite = type(sprite)(
            *(
                cv2.resize(
                    a,
                    None,
                    fx=IMAGE_SIZE * 0.95 / longest,
                    fy=IMAGE_SIZE * 0.95 / longest,
                    interpolation=cv2.INTER_AREA,
                )
                for a in (sprite.color, sprite.alpha)
            )
        ).cropped()
    x = int(rng.integers(0, IMAGE_SIZE - sprite.width + 1))
    y = int(rng.integers(0, IMAGE_SIZE - sprite.height + 1))
    x0, y0, x1, y1 = composite(canvas, sprite, x, y)
    return camera_effects(rng, canvas), (x0, y0, x1 - 1, y1 - 1)


def _save(path: Path, image: np.ndarray) -> None:
    if not cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 95]):
        raise OSError(f"could not write {path}; check the disk and permissions")


def _write_flat_split(world: SceneWorld, root: Path, split: str, wnids: list[str], per_class: int) -> None:
    """val/ or test/: images/<split>_<i>.JPEG with classes interleaved, plus annotations."""
    order = world.rng("tiny-imagenet-order", split).permutation(len(wnids) * per_class)
    fresh_dir(root / split / "images", "*.JPEG")
    lines = []
    for i, item in enumerate(tqdm(order, desc=f"tiny-imagenet {split}", unit="img")):
        category = int(item) // per_class
        image, box = object_image(world, category, split, int(item) % per_class)
        name = f"{split}_{i}.JPEG"
        _save(root / split / "images" / name, image)
        lines.append("\t".join([name, wnids[category], *map(str, box)]))
    (root / split / f"{split}_annotations.txt").write_text("".join(f"{line}\n" for line in lines))


def write_tiny_imagenet(
    root: str | Path,
    seed: int = 0,
    n_classes: int = 10,
    train_per_class: int = 100,
    val_per_class: int = 20,
    test_per_class: int = 20,
) -> Path:
    """Write the mini Tiny-ImageNet (layout in the module docstring) under ``root``; return it."""
    if not 2 <= n_classes <= len(CATEGORIES):
        raise ValueError(f"n_classes must be between 2 and {len(CATEGORIES)}, got {n_classes}")
    root = Path(root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    world = SceneWorld(seed)
    chosen = CATEGORIES[:n_classes]
    wnids = [wnid for wnid, _, _ in chosen]
    foreign = sorted(p.name for p in (root / "train").glob("*") if p.name not in wnids)
    if foreign:
        raise ValueError(
            f"{root / 'train'} already holds classes {foreign} that this dataset does not have; "
            "write into an empty folder or delete the old dataset first"
        )
    (root / "wnids.txt").write_text("".join(f"{wnid}\n" for wnid in wnids))
    (root / "words.txt").write_text("".join(f"{wnid}\t{words}\n" for wnid, words, _ in chosen))
    for category, wnid in enumerate(tqdm(wnids, desc="tiny-imagenet train", unit="class")):
        fresh_dir(root / "train" / wnid / "images", "*.JPEG")
        lines = []
        for i in range(train_per_class):
            image, box = object_image(world, category, "train", i)
            name = f"{wnid}_{i}.JPEG"
            _save(root / "train" / wnid / "images" / name, image)
            lines.append("\t".join([name, *map(str, box)]))
        (root / "train" / wnid / f"{wnid}_boxes.txt").write_text("".join(f"{line}\n" for line in lines))
    _write_flat_split(world, root, "val", wnids, val_per_class)
    _write_flat_split(world, root, "test", wnids, test_per_class)
    info = {
        "generator": "perception_training.synthetic",
        "format": "tiny-imagenet",
        "seed": seed,
        "n_classes": n_classes,
        "per_class": {"train": train_per_class, "val": val_per_class, "test": test_per_class},
    }
    (root / "synthetic.json").write_text(json.dumps(info, indent=2) + "\n")
    return root
