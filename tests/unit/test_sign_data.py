"""AIHub sign data: the synthetic writer -> reader round trip, broken inputs, splits, vocabulary."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from perception_training.sign.aihub import (
    AihubIndex,
    SignSegment,
    check_vocabulary,
    read_aihub,
    split_by_video,
)
from perception_training.synthetic.signing import SIGN_WORDS, SigningWorld, write_aihub_dataset

SEED, VIDEOS, WORDS = 4, 4, (2, 3)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_aihub_dataset(tmp_path_factory.mktemp("aihub"), SEED, VIDEOS, WORDS)


@pytest.fixture
def copy(dataset: Path, tmp_path: Path) -> Path:
    """A private copy of the data set that a test may break."""
    return Path(shutil.copytree(dataset, tmp_path / "data"))


def label_path(root: Path, index: int) -> Path:
    return root / "label" / f"synthetic_sign_{index:06d}_morpheme.json"


def video_path(root: Path, index: int) -> Path:
    return root / "video" / f"synthetic_sign_{index:06d}.mp4"


def edit_label(root: Path, index: int, change: Callable[[dict], None]) -> None:
    path = label_path(root, index)
    label = json.loads(path.read_text(encoding="utf-8"))
    change(label)
    path.write_text(json.dumps(label, ensure_ascii=False), encoding="utf-8")


def words_of(index: AihubIndex, video: Path) -> list[str]:
    return [s.word for s in index.segments if s.video.name == video.name]


def test_round_trip_gives_the_worlds_words_and_times(dataset: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, "perception_training.sign.aihub"):
        index = read_aihub(dataset)
    world = SigningWorld(SEED)
    expected = []
    for i in range(VIDEOS):
        video = world.video(i, "train", WORDS)
        expected += [SignSegment(video_path(dataset, i), w.start_s, w.end_s, w.word) for w in video.words]
    assert index.segments == tuple(expected)
    assert index.skipped == ()
    assert index.classes == tuple(sorted({s.word for s in expected}))
    assert set(index.classes) <= set(SIGN_WORDS)
    assert f"{len(expected)} segments in {VIDEOS} videos" in caplog.text

    label = json.loads(label_path(dataset, 0).read_text(encoding="utf-8"))
    assert set(label["metaData"]) == {"name", "duration", "url", "exportedOn"}
    assert label["metaData"]["duration"] == pytest.approx(world.video(0, "train", WORDS).duration_s, abs=1e-3)
    assert "\\u" not in label_path(dataset, 0).read_text(encoding="utf-8")  # Korean written as UTF-8


@pytest.mark.parametrize(
    ("breakage", "where", "reason"),
    [
        (lambda root: label_path(root, 1).unlink(), "video", "no label file"),
        (lambda root: video_path(root, 1).unlink(), "label", "no video"),
        (
            lambda root: label_path(root, 1).write_text('{"data": [', encoding="utf-8"),
            "label",
            "invalid JSON",
        ),
        (lambda root: edit_label(root, 1, lambda lab: lab.pop("data")), "label", 'missing key "data"'),
        (
            lambda root: video_path(root, 1).write_bytes(video_path(root, 1).read_bytes()[:3000]),
            "video",
            "cannot",
        ),
        (lambda root: video_path(root, 1).write_bytes(b"not a video"), "video", "cannot be read as a video"),
    ],
    ids=[
        "video-without-label",
        "label-without-video",
        "invalid-json",
        "missing-data",
        "truncated",
        "garbage",
    ],
)
def test_a_broken_file_is_skipped_with_its_reason_and_the_rest_loads(
    copy: Path, breakage: Callable[[Path], None], where: str, reason: str
) -> None:
    breakage(copy)
    index = read_aihub(copy)
    assert len(index.skipped) == 1, index.skipped
    skipped = index.skipped[0]
    assert skipped.path.parent.name == where and "synthetic_sign_000001" in skipped.path.name
    assert reason in skipped.reason
    assert index.videos == tuple(video_path(copy, i) for i in (0, 2, 3))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda seg: seg.update(end=seg["start"]), "needs 0 <= start < end"),
        (lambda seg: seg.update(end=999.0), "after the end of synthetic_sign_000002.mp4"),
        (lambda seg: seg.pop("attributes"), "missing key(s) ['attributes']"),
        (lambda seg: seg.update(attributes=[]), "attributes must be one"),
        (lambda seg: seg.update(start="soon"), "not numbers"),
    ],
    ids=["end-before-start", "beyond-duration", "no-attributes", "no-word", "bad-number"],
)
def test_a_bad_segment_is_skipped_alone(copy: Path, change: Callable[[dict], None], reason: str) -> None:
    edit_label(copy, 2, lambda label: change(label["data"][0]))
    index = read_aihub(copy)
    assert [(s.path.name, s.reason.split(":")[0]) for s in index.skipped] == [
        (label_path(copy, 2).name, "segment 0")
    ]
    assert reason in index.skipped[0].reason
    world_words = [w.word for w in SigningWorld(SEED).video(2, "train", WORDS).words]
    assert words_of(index, video_path(copy, 2)) == world_words[1:]
    assert len(index.videos) == VIDEOS


def test_metadata_duration_is_not_trusted(copy: Path) -> None:
    """A label claiming a longer video still cannot place a segment past the real last frame."""

    def stretch(label: dict) -> None:
        label["metaData"]["duration"] = 999.0
        label["data"][-1]["end"] = 998.0

    edit_label(copy, 0, stretch)
    assert "read from the video" in read_aihub(copy).skipped[0].reason


def test_videos_in_subfolders_are_found_and_a_duplicate_name_is_skipped(copy: Path) -> None:
    (copy / "video" / "a").mkdir()
    shutil.move(video_path(copy, 0), copy / "video" / "a")
    shutil.copy(video_path(copy, 1), copy / "video" / "a")
    index = read_aihub(copy)
    assert len(index.videos) == VIDEOS
    assert [(s.path, s.reason) for s in index.skipped] == [
        (
            video_path(copy, 1),
            f"same name as {copy / 'video' / 'a' / video_path(copy, 1).name}, which is used; "
            "rename or remove one",
        )
    ]


def test_missing_folders_raise(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="needs video/"):
        read_aihub(tmp_path)


def test_split_by_video_is_seeded_and_disjoint(dataset: Path) -> None:
    index = read_aihub(dataset)
    train, val = split_by_video(index, 0.25, seed=1)
    assert set(train.videos).isdisjoint(val.videos)
    assert len(val.videos) == 1 and len(train.videos) == VIDEOS - 1
    assert sorted(train.segments + val.segments, key=index.segments.index) == list(index.segments)
    assert split_by_video(index, 0.25, seed=1) == (train, val)
    assert {split_by_video(index, 0.5, seed=s)[1].videos for s in range(8)} != {val.videos}
    assert split_by_video(index, 0.01, seed=0)[1].videos  # a small fraction still validates on one video
    assert split_by_video(index, 0.0, seed=0)[1].segments == ()
    with pytest.raises(ValueError, match="val_fraction"):
        split_by_video(index, 1.0, seed=0)


def test_check_vocabulary_moves_unknown_validation_words_to_skipped(tmp_path: Path) -> None:
    video = tmp_path / "v.mp4"
    train = AihubIndex((SignSegment(video, 0.0, 1.0, "위"),))
    val = AihubIndex(
        (SignSegment(tmp_path / "w.mp4", 0.0, 1.0, "위"), SignSegment(tmp_path / "w.mp4", 1.5, 2.0, "중앙"))
    )
    checked = check_vocabulary(train, val)
    assert [s.word for s in checked.segments] == ["위"]
    assert len(checked.skipped) == 1 and "'중앙'" in checked.skipped[0].reason
    assert checked.skipped[0].path.name == "w.mp4"
