"""The one seeded synthetic world every dataset of the project is drawn from.

``SceneWorld(seed).scene(index, split, kind, ...)`` is a pure function of its arguments: the
random generator is derived from all of them, so the same call always renders the same frame
and different splits never share a scene.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Sequence

import numpy as np

from perception_training.synthetic.background import Background, draw_background, plain_background
from perception_training.synthetic.effects import camera_effects
from perception_training.synthetic.lookalikes import LOOKALIKES
from perception_training.synthetic.materials import with_material
from perception_training.synthetic.objects import GLASS_TYPE_OBJECTS, OBJECT_TYPES, DrawnObject, ObjectType
from perception_training.synthetic.painter import composite
from perception_training.synthetic.photo_textures import dress_with_photos
from perception_training.synthetic.scene import DETECTOR_CLASSES, Scene, SceneObject
from perception_training.synthetic.sim2real import sim2real_options

KINDS: tuple[str, ...] = ("mixed", "glass", "caption", "plain")
MAX_OVERLAP = 0.3  # intersection over the smaller box
_MIXED_WEIGHTS = {
    "person": 0.16,
    "bottle": 0.18,
    "wine_glass": 0.14,
    "mug": 0.14,
    "beer_glass": 0.1,
    "soju_glass": 0.1,
    "knife": 0.18,
}
_DISTRACTOR_WEIGHTS = {"bottle": 0.4, "knife": 0.3, "wine_glass": 0.2, "person": 0.1}
_GLASS_WEIGHTS = {name: 1.0 for name in GLASS_TYPE_OBJECTS.values()}
_PLACEMENT_TRIES = 30
_LOOKALIKES_PER_SCENE = (2, 6)  # 2-5 knife look-alikes when that sim-to-real option is on


def _code(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


def resolve_types(names: Sequence[str]) -> list[set[str]]:
    """For each name, the object types that satisfy it.

    A COCO class name ("cup") stands for every type labelled so (mug and beer glass); an
    object type name ("mug", "beer_glass") for that type only.
    """
    resolved = []
    for name in names:
        if name in DETECTOR_CLASSES:
            resolved.append({t.name for t in OBJECT_TYPES.values() if t.class_name == name})
        elif name in OBJECT_TYPES:
            resolved.append({name})
        else:
            raise ValueError(
                f"unknown object name {name!r}; use a COCO class {list(DETECTOR_CLASSES)} "
                f"or an object type {sorted(OBJECT_TYPES)}"
            )
    return resolved


@dataclasses.dataclass
class _Placed:
    object_type: ObjectType
    drawn: DrawnObject
    x: int
    y: int

    @property
    def box(self) -> tuple[int, int, int, int]:
        return self.x, self.y, self.x + self.drawn.sprite.width, self.y + self.drawn.sprite.height


def _attributes(item: _Placed) -> dict[str, str]:
    glass = {"glass_type": item.object_type.glass_type} if item.object_type.glass_type else {}
    return {**item.drawn.attributes, **glass}


def _with_materials(rng: np.random.Generator, placed: list[_Placed]) -> list[_Placed]:
    """Each placed object reshaped and given a material, standing where it stood (bottom centre)."""
    dressed = []
    for item in placed:
        sprite = with_material(rng, item.drawn.sprite)
        x = item.x + (item.drawn.sprite.width - sprite.width) // 2
        y = item.y + item.drawn.sprite.height - sprite.height
        dressed.append(
            dataclasses.replace(item, drawn=dataclasses.replace(item.drawn, sprite=sprite), x=x, y=y)
        )
    return dressed


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return iw * ih / max(smaller, 1)


class SceneWorld:
    """Deterministic generator of camera-like scenes with exact ground truth.

    ``sim2real`` names options of :mod:`perception_training.synthetic.sim2real` (none by default).
    """

    def __init__(self, seed: int = 0, sim2real: Sequence[str] = ()) -> None:
        if int(seed) < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed}")
        self.seed = int(seed)
        self.sim2real = sim2real_options(sim2real)

    def rng(self, *parts: str | int) -> np.random.Generator:
        """A generator derived from the world seed and ``parts`` (strings hashed stably)."""
        entropy = [self.seed, *(p if isinstance(p, int) else _code(p) for p in parts)]
        return np.random.default_rng(np.random.SeedSequence(entropy))

    def scene(
        self,
        index: int,
        split: str = "train",
        kind: str = "mixed",
        size: tuple[int, int] = (640, 480),
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
    ) -> Scene:
        """Render scene ``index`` of ``split``.

        ``kind``: "mixed" (1-6 objects of every class), "glass" (2-5 glasses and mugs plus a
        few distractors), "caption" (1-3 objects, easy to describe in a sentence) or "plain"
        (the included objects, or one, on a flat colour without camera effects). ``size`` is
        (width, height). ``include`` forces at least one object of each named COCO class or
        object type; ``exclude`` forbids them.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown scene kind {kind!r}; choose one of {KINDS}")
        if index < 0:
            raise ValueError(f"scene index must be >= 0, got {index}")
        width, height = int(size[0]), int(size[1])
        if width < 32 or height < 32:
            raise ValueError(f"scene size {size} is too small; use at least 32x32 pixels")
        forced, banned = resolve_types(include), set().union(*resolve_types(exclude))
        allowed_forced = [choices - banned for choices in forced]
        if any(not choices for choices in allowed_forced):
            raise ValueError(f"include {list(include)} and exclude {list(exclude)} contradict each other")
        key = (split, index, kind, width, height, "|".join(include), "|".join(exclude))
        rng = self.rng(*key)
        background = (
            plain_background(rng, width, height) if kind == "plain" else draw_background(rng, width, height)
        )
        types = [OBJECT_TYPES[sorted(c)[int(rng.integers(len(c)))]] for c in allowed_forced]
        types += self._extra_types(rng, kind, len(types), banned)
        placed = self._place_all(rng, types, len(forced), background)
        real = self.sim2real if kind != "plain" else ()
        if "photos" in real:
            dress_with_photos(self.rng(*key, "photos"), background)
        if "materials" in real:
            placed = _with_materials(self.rng(*key, "materials"), placed)
        canvas = background.image.copy()
        if "lookalikes" in real:
            dressed = "materials" in real  # else only the real knives would be shaded and shiny
            self._draw_lookalikes(self.rng(*key, "lookalikes"), canvas, background, placed, dressed)
        objects = []
        for item in sorted(placed, key=lambda p: p.y + p.drawn.sprite.height):
            box = composite(canvas, item.drawn.sprite, item.x, item.y)
            if box is not None:
                objects.append(
                    SceneObject(
                        item.object_type.class_name,
                        tuple(float(v) for v in box),
                        item.drawn.color,
                        _attributes(item),
                    )
                )
        image = canvas.round().astype(np.uint8) if kind == "plain" else camera_effects(rng, canvas)
        if "camera" in real:
            # Imported here: albumentations takes seconds to import and only this option needs it.
            from perception_training.synthetic.camera_model import camera_model

            image, objects = camera_model(self.rng(*key, "camera"), image, objects)
        return Scene(image, objects, self.seed, split, index, kind, background.table_top)

    @staticmethod
    def _draw_lookalikes(
        rng: np.random.Generator,
        canvas: np.ndarray,
        background: Background,
        placed: list[_Placed],
        dressed: bool = False,
    ) -> None:
        """Paint knife look-alikes on the table, behind the objects and unlabelled (``dressed``:
        with a material, as the ``materials`` option gives the objects)."""
        height, width = canvas.shape[:2]
        taken = [item.box for item in placed]
        names = sorted(LOOKALIKES)
        for _ in range(int(rng.integers(*_LOOKALIKES_PER_SCENE))):
            draw, size = LOOKALIKES[names[int(rng.integers(len(names)))]]
            sprite = draw(rng, rng.uniform(*size) * height).sprite
            if dressed:
                sprite = with_material(rng, sprite)
            for _ in range(_PLACEMENT_TRIES):
                x = int(rng.uniform(-0.1 * sprite.width, width - 0.9 * sprite.width))
                top = min(background.table_top + 0.03 * height, height - 1) if background.table_top else 0
                y = int(rng.uniform(top, height)) - sprite.height // 2
                box = (x, y, x + sprite.width, y + sprite.height)
                if all(_overlap(box, other) <= MAX_OVERLAP for other in taken):
                    composite(canvas, sprite, x, y)
                    taken.append(box)
                    break

    @staticmethod
    def _extra_types(rng: np.random.Generator, kind: str, forced: int, banned: set[str]) -> list[ObjectType]:
        """The randomly chosen objects that join the forced ones."""

        def sample(weights: dict[str, float], count: int) -> list[ObjectType]:
            names = [n for n in weights if n not in banned]
            if not names or count <= 0:
                return []
            p = np.array([weights[n] for n in names])
            return [OBJECT_TYPES[names[i]] for i in rng.choice(len(names), size=count, p=p / p.sum())]

        if kind == "plain":
            return sample(_MIXED_WEIGHTS, 1 - forced)
        if kind == "glass":
            return sample(_GLASS_WEIGHTS, int(rng.integers(2, 6)) - forced) + sample(
                _DISTRACTOR_WEIGHTS, int(rng.integers(0, 3))
            )
        most = 4 if kind == "caption" else 7
        return sample(_MIXED_WEIGHTS, int(rng.integers(1, most)) - forced)

    @staticmethod
    def _place_all(
        rng: np.random.Generator, types: list[ObjectType], forced: int, background: Background
    ) -> list[_Placed]:
        """Draw and position each object; unforced ones that cannot avoid overlap are dropped."""
        height, width = background.image.shape[:2]
        placed: list[_Placed] = []
        for i, object_type in enumerate(types):
            drawn = object_type.draw(rng, rng.uniform(*object_type.size) * height)
            sw, sh = drawn.sprite.width, drawn.sprite.height
            tries = _PLACEMENT_TRIES * (4 if i < forced else 1)
            candidate = None
            for _ in range(tries):
                x = int(rng.uniform(-0.1 * sw, width - 0.9 * sw))
                if object_type.on_table and background.table_top > 0:
                    bottom = rng.uniform(min(background.table_top + 0.03 * height, height - 1), height)
                else:
                    bottom = rng.uniform(min(sh, height), height)
                candidate = _Placed(object_type, drawn, x, int(bottom) - sh)
                if all(_overlap(candidate.box, other.box) <= MAX_OVERLAP for other in placed):
                    break
            else:
                if i >= forced:
                    continue
            placed.append(candidate)
        return placed
