"""The signing world: deterministic videos whose five signs differ only by motion."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import av
import numpy as np
import pytest

from perception_training.synthetic.cli import main
from perception_training.synthetic.signing import SIGN_WORDS, SigningWorld, SignVideo, write_aihub_dataset
from perception_training.synthetic.signing_motion import DIRECTIONS
from perception_training.synthetic.signing_video import GAP_SECONDS, SIGN_SECONDS

SIZE = (96, 72)
SAMPLE = 40  # videos whose ground truth (not pixels) the motion tests inspect


@pytest.fixture(scope="module")
def videos() -> list[SignVideo]:
    world = SigningWorld(7)
    return [world.video(i, "train", (3, 4), SIZE) for i in range(SAMPLE)]


def sign_frames(video: SignVideo, start_s: float, end_s: float) -> range:
    return range(
        math.ceil(start_s * video.fps), min(math.floor(end_s * video.fps), video.frame_count - 1) + 1
    )


def test_same_arguments_same_video_and_others_differ() -> None:
    a, b = SigningWorld(1).video(3, size=SIZE), SigningWorld(1).video(3, size=SIZE)
    assert a.words == b.words and a.frame_count == b.frame_count
    for i in (0, a.frame_count // 2, a.frame_count - 1):
        assert np.array_equal(a.frame(i), b.frame(i))
    assert a.frame(0).shape == (SIZE[1], SIZE[0], 3) and a.frame(0).dtype == np.uint8
    for other in (SigningWorld(2).video(3, size=SIZE), SigningWorld(1).video(4, size=SIZE)):
        assert other.words != a.words or not np.array_equal(other.frame(0), a.frame(0))
    assert not np.array_equal(a.frame(0), a.frame(1))  # the camera noise is per frame
    with pytest.raises(IndexError):
        a.frame(a.frame_count)


def test_scripts_have_the_promised_timing(videos: list[SignVideo]) -> None:
    for video in videos:
        assert 3 <= len(video.words) <= 4
        assert video.words[0].start_s > 0 and video.words[-1].end_s < video.duration_s
        for word in video.words:
            assert word.word in SIGN_WORDS
            assert SIGN_SECONDS[0] - 1e-3 <= word.end_s - word.start_s <= SIGN_SECONDS[1] + 1e-3
            assert word.start_s == round(word.start_s, 3) and word.end_s == round(word.end_s, 3)
        for before, after in zip(video.words, video.words[1:], strict=False):
            assert after.start_s - before.end_s >= GAP_SECONDS[0] - 1e-3


def test_each_word_moves_the_hand_its_own_way_for_either_hand(videos: list[SignVideo]) -> None:
    """Left is the signer's left (image +x) whichever hand signs; centre comes back where it began."""
    seen = set()
    for video in videos:
        for word in video.words:
            frames = sign_frames(video, word.start_s, word.end_s)
            track = np.array([video.hand_at(i) for i in frames])
            travel = track[-1] - track[0]
            path = np.abs(np.diff(track, axis=0)).sum()
            motion = SIGN_WORDS[word.word]
            if motion == "centre":
                assert np.hypot(*travel) < 0.35 * path, (motion, travel, path)
                assert min(np.ptp(track, axis=0)) > 0.1 * video.signer.scale  # a circle, not a line
            else:
                dx, dy = DIRECTIONS[motion]
                along, across = travel @ (dx, dy), abs(travel @ (-dy, dx))
                assert along > 0.2 * video.signer.scale and along > 3 * across, (motion, travel)
            seen.add((motion, video.signer.dominant))
    assert seen == {(m, hand) for m in SIGN_WORDS.values() for hand in (-1, 1)}


def test_one_frame_does_not_give_the_word_away(videos: list[SignVideo]) -> None:
    """Every stroke is centred on the signing space: where the hand is, on average, is the same
    for all five words; only its motion differs."""
    offsets: dict[str, list[np.ndarray]] = {m: [] for m in SIGN_WORDS.values()}
    for video in videos:
        centre = np.array(video.signer.signing_centre)
        for word in video.words:
            track = [video.hand_at(i) for i in sign_frames(video, word.start_s, word.end_s)]
            offsets[SIGN_WORDS[word.word]] += [(np.array(p) - centre) / video.signer.scale for p in track]
    means = {m: np.mean(v, axis=0) for m, v in offsets.items()}
    for motion, mean in means.items():
        assert np.all(np.abs(mean) < 0.05), (motion, mean)


def test_writer_and_cli_write_decodable_videos_and_labels(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    main(
        [
            "sign",
            "--out",
            str(tmp_path),
            "--seed",
            "3",
            "--videos",
            "3",
            "--words",
            "1",
            "2",
            "--size",
            "96x72",
        ]
    )
    assert capsys.readouterr().out.strip() == str(tmp_path.resolve())
    info = json.loads((tmp_path / "synthetic.json").read_text(encoding="utf-8"))
    assert info["format"] == "aihub-morpheme" and info["classes"] == sorted(SIGN_WORDS)
    video = SigningWorld(3).video(0, "train", (1, 2), SIZE, 15)
    with av.open(str(tmp_path / "video" / "synthetic_sign_000000.mp4")) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        decoded = [f.to_ndarray(format="bgr24") for f in container.decode(stream)]
    assert len(decoded) == video.frame_count
    assert np.abs(decoded[5].astype(int) - video.frame(5)).mean() < 6  # lossy, but the same picture
    assert len(list((tmp_path / "label").glob("*_morpheme.json"))) == 3

    write_aihub_dataset(tmp_path, seed=3, videos=1, size=SIZE)  # a rewrite leaves nothing stale
    assert [p.name for p in (tmp_path / "video").iterdir()] == ["synthetic_sign_000000.mp4"]
    assert len(list((tmp_path / "label").iterdir())) == 1
    with pytest.raises(ValueError, match="even width and height"):
        write_aihub_dataset(tmp_path, seed=3, videos=1, size=(95, 72))


def test_several_sizes_are_taken_in_turn_and_workers_do_not_change_the_data(tmp_path: Path) -> None:
    sizes = [(96, 72), (64, 48)]
    one = write_aihub_dataset(tmp_path / "one", seed=3, videos=3, size=sizes, gaps=(0.4, 2.0))
    two = write_aihub_dataset(tmp_path / "two", seed=3, videos=3, size=sizes, gaps=(0.4, 2.0), workers=2)
    for index, (width, height) in enumerate([*sizes, sizes[0]]):
        name = f"synthetic_sign_{index:06d}"
        for root in (one, two):
            with av.open(str(root / "video" / f"{name}.mp4")) as container:
                stream = container.streams.video[0]
                assert (stream.width, stream.height) == (width, height)
        labels = [
            (root / "label" / f"{name}_morpheme.json").read_text(encoding="utf-8") for root in (one, two)
        ]
        assert labels[0] == labels[1]
    info = json.loads((two / "synthetic.json").read_text(encoding="utf-8"))
    assert info["sizes"] == [[96, 72], [64, 48]] and info["gaps"] == [0.4, 2.0]


def test_longer_pauses_between_signs_on_request_and_default_videos_unchanged() -> None:
    world = SigningWorld(5)
    default = world.video(0, "test", (4, 4))
    assert world.video(0, "test", (4, 4), gaps=GAP_SECONDS).words == default.words
    paused = world.video(0, "test", (4, 4), gaps=(1.5, 3.0)).words
    pauses = [b.start_s - a.end_s for a, b in itertools.pairwise(paused)]
    assert len(pauses) == 3 and all(1.5 <= p <= 3.0 + 1e-3 for p in pauses)


def test_low_contrast_signers_on_request_and_nothing_else_changes() -> None:
    """A share of signers dressed near their skin tone (the hand hard to see on the torso); the
    words, timing and everything else are the video's own."""
    world = SigningWorld(6)

    def contrast(video: SignVideo) -> float:
        return float(np.linalg.norm(np.subtract(video.signer.skin, video.signer.shirt)))

    plain = [world.video(i, "train", (2, 3), SIZE) for i in range(20)]
    dressed = [world.video(i, "train", (2, 3), SIZE, low_contrast=1.0) for i in range(20)]
    assert [v.words for v in dressed] == [v.words for v in plain]
    assert all(d.signer.skin == p.signer.skin for d, p in zip(dressed, plain, strict=True))
    assert max(map(contrast, dressed)) < 50 < float(np.median([contrast(v) for v in plain]))
    unchanged = world.video(0, "train", (2, 3), SIZE, low_contrast=0.0)
    assert np.array_equal(unchanged.frame(5), plain[0].frame(5))
