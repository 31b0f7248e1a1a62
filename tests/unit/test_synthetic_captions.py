"""Captions from the scene graph (English, Korean) and the captions.txt writer."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from perception_training.captioning.captions_file import read_captions
from perception_training.synthetic import SceneWorld, captions, write_caption_dataset
from perception_training.synthetic.captions import josa
from perception_training.synthetic.cli import main
from perception_training.synthetic.scene import Scene, SceneObject

SIZE = (224, 224)
KNIFE = {"en": re.compile(r"\bkni(fe|ves)\b"), "ko": re.compile("칼")}


def _scene(objects: list[SceneObject]) -> Scene:
    return Scene(np.zeros((*SIZE[::-1], 3), np.uint8), objects, 0, "train", 0, "caption", 100)


@pytest.mark.parametrize("language", ["en", "ko"])
def test_five_different_references_per_scene(language: str) -> None:
    world = SceneWorld(0)
    for index in range(20):
        refs = captions(world.scene(index, "train", "caption", SIZE), language)
        assert len(refs) == 5 and len(set(refs)) == 5
        assert all(r.endswith(".") and len(r) > 5 for r in refs)


@pytest.mark.parametrize("language", ["en", "ko"])
def test_knife_is_mentioned_exactly_when_visible(language: str) -> None:
    world = SceneWorld(1)
    for index in range(15):
        for kind in ("caption", "mixed"):
            with_knife = world.scene(index, "test", kind, SIZE, include=["knife"])
            assert all(KNIFE[language].search(r) for r in captions(with_knife, language))
            without = world.scene(index, "test", kind, SIZE, exclude=["knife"])
            assert not any(KNIFE[language].search(r) for r in captions(without, language))


def test_counts_colours_and_relations_follow_the_scene() -> None:
    cups = [
        SceneObject("cup", (10, 120, 40, 150), "red", {"glass_type": "cup"}),
        SceneObject("cup", (50, 120, 80, 150), "red", {"glass_type": "cup"}),
    ]
    knife = SceneObject("knife", (150, 130, 200, 140), "black")
    en = captions(_scene([*cups, knife]), "en")
    assert en[0] == "Two red cups and a knife on the table."
    assert "Two red cups to the left of a knife." in en
    ko = captions(_scene([*cups, knife]), "ko")
    assert ko[0] == "탁자 위에 빨간 컵 두 개와 칼이 있다."
    near = captions(_scene([cups[0], SceneObject("knife", (42, 130, 90, 140), "black")]), "en")
    assert "A red cup next to a knife." in near


def test_people_and_liquids_are_described() -> None:
    person = SceneObject("person", (150, 20, 200, 200), "blue")
    beer = SceneObject("cup", (20, 120, 50, 170), "clear", {"glass_type": "beer_glass", "liquid": "beer"})
    en = captions(_scene([person, beer]), "en")
    assert en[0] == "A person in a blue shirt next to a table with a glass of beer."
    assert "A person in a blue shirt standing to the right of a glass of beer." in en
    ko = captions(_scene([person, beer]), "ko")
    assert ko[0] == "파란 옷을 입은 사람이 맥주 한 잔이 놓인 탁자 옆에 서 있다."


@pytest.mark.parametrize(
    ("word", "expected"), [("컵", "컵이"), ("소주잔", "소주잔이"), ("두 개", "두 개가"), ("사과", "사과가")]
)
def test_korean_subject_particle_follows_the_last_syllable(word: str, expected: str) -> None:
    assert josa(word, "이", "가") == expected


def test_vocabulary_is_compact() -> None:
    world = SceneWorld(2)
    words = {
        w
        for i in range(100)
        for r in captions(world.scene(i, "train", "caption", SIZE), "en")
        for w in re.findall(r"[a-z]+", r.lower())
    }
    assert len(words) < 90


def test_unknown_language_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown caption language"):
        captions(SceneWorld(0).scene(0, size=SIZE), "fr")


def test_writer_layout_parses_in_all_three_formats(tmp_path: Path) -> None:
    counts = {"train": 4, "val": 2, "test": 2}
    root = write_caption_dataset(tmp_path, seed=3, counts=counts, size=(96, 96))
    for split, count in counts.items():
        names = (root / "splits" / f"{split}.txt").read_text().split()
        assert len(names) == count and all((root / "images" / n).is_file() for n in names)
    for language in ("en", "ko"):
        parsed = {
            fmt: read_captions(root / language / fmt / "captions.txt", fmt)
            for fmt in ("csv", "tsv", "flickr")
        }
        assert len(parsed["csv"]) == 5 * sum(counts.values())
        assert parsed["csv"] == parsed["tsv"] == parsed["flickr"]
        scene = SceneWorld(3).scene(1, "val", "caption", (96, 96))
        assert [r.caption for r in parsed["csv"] if r.image == "val_000001.jpg"] == captions(scene, language)


def test_cli_writes_one_language(tmp_path: Path) -> None:
    main(
        [
            "captions",
            "--out",
            str(tmp_path),
            "--train",
            "2",
            "--val",
            "1",
            "--test",
            "1",
            "--size",
            "64x64",
            "--languages",
            "ko",
        ]
    )
    assert (tmp_path / "ko" / "flickr" / "captions.txt").is_file()
    assert not (tmp_path / "en").exists()
