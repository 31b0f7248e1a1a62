"""A scene as captions see it: groups of same-type objects, their counts, colours and places."""

from __future__ import annotations

from dataclasses import dataclass

from perception_training.synthetic.scene import Scene, SceneObject

# Canonical mention order, so the same scene content always reads the same way.
NOUN_ORDER: tuple[str, ...] = ("person", "bottle", "wine_glass", "cup", "beer_glass", "soju_glass", "knife")
COLORED_NOUNS = frozenset({"person", "bottle", "cup"})  # colour is the shirt, the body, the mug
NEXT_TO_GAP = 0.05  # horizontal gap, as a fraction of the width, below which things are "next to"


def noun_of(obj: SceneObject) -> str:
    """The caption noun key: the glass type for drinking vessels, else the COCO class."""
    return obj.attributes.get("glass_type", obj.class_name)


@dataclass(frozen=True)
class Group:
    """All objects of one noun in a scene, with what they share."""

    noun: str
    objects: tuple[SceneObject, ...]

    @property
    def count(self) -> int:
        return len(self.objects)

    @property
    def color(self) -> str | None:
        """The colour word all members share, for nouns whose colour is worth saying."""
        colors = {o.color for o in self.objects}
        return colors.pop() if self.noun in COLORED_NOUNS and len(colors) == 1 else None

    @property
    def liquid(self) -> str | None:
        """The liquid all members hold (beer, red wine, empty ...), when it is visible and shared."""
        liquids = {o.attributes.get("liquid") for o in self.objects}
        visible = self.noun in ("beer_glass", "wine_glass")
        return liquids.pop() if visible and len(liquids) == 1 else None

    @property
    def center_x(self) -> float:
        return sum((o.box[0] + o.box[2]) / 2 for o in self.objects) / self.count

    @property
    def on_table(self) -> bool:
        return self.noun != "person"


def groups_of(scene: Scene) -> list[Group]:
    """The scene's objects grouped by noun, in canonical order."""
    by_noun: dict[str, list[SceneObject]] = {}
    for obj in scene.objects:
        by_noun.setdefault(noun_of(obj), []).append(obj)
    return [Group(noun, tuple(by_noun[noun])) for noun in NOUN_ORDER if noun in by_noun]


def horizontal_gap(a: Group, b: Group) -> float:
    """Smallest horizontal pixel distance between a box of ``a`` and one of ``b`` (0 when they overlap)."""
    return min(
        max(0.0, max(p.box[0], q.box[0]) - min(p.box[2], q.box[2])) for p in a.objects for q in b.objects
    )


def third(x: float, width: int) -> str:
    """Where ``x`` lies across the frame: left, middle or right."""
    return "left" if x < width / 3 else "right" if x > 2 * width / 3 else "middle"
