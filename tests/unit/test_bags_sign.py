"""Synthetic sign bags: the signing world's frames, and its words on /ground_truth/signs."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from perception.bags.cli import main
from perception.bags.reading import bag_info, read_messages
from perception.core.images import compressed_to_numpy, image_to_numpy
from perception_training.bags.synthetic import COMPRESSED_TOPIC, DEFAULT_START_NS, IMAGE_TOPIC
from perception_training.bags.synthetic_sign import SIGN_TYPE, SIGNS_TOPIC, write_synthetic_sign_bag
from perception_training.synthetic.signing import SigningWorld, words_to_fill

SIZE, FPS, FRAMES = (96, 72), 15.0, 60


def stamp_ns(time) -> int:
    return time.sec * 10**9 + time.nanosec


def test_bag_holds_the_frames_and_every_complete_word(tmp_path: Path) -> None:
    bag = write_synthetic_sign_bag(tmp_path / "sign", FRAMES, fps=FPS, seed=5, size=SIZE)
    video = SigningWorld(5).video(0, "test", (words_to_fill(FRAMES / FPS),) * 2, SIZE, FPS)
    assert video.frame_count >= FRAMES
    images, labels = [], []
    for topic, bag_ns, msg in read_messages(bag):
        (images if topic == IMAGE_TOPIC else labels).append((bag_ns, msg))
    assert len(images) == FRAMES
    for index in (0, FRAMES - 1):
        bag_ns, msg = images[index]
        assert bag_ns == stamp_ns(msg.header.stamp) == DEFAULT_START_NS + round(index * 1e9 / FPS)
        assert np.array_equal(image_to_numpy(msg), video.frame(index))

    complete = [w for w in video.words if w.end_s <= (FRAMES - 1) / FPS]
    assert complete and len(complete) < len(video.words)  # the bag cuts the last words off
    assert [m.label for _, m in labels] == [w.word for w in complete]
    for (bag_ns, msg), word in zip(labels, complete, strict=True):
        assert stamp_ns(msg.clip_start) == DEFAULT_START_NS + round(word.start_s * 1e9)
        assert stamp_ns(msg.clip_end) == DEFAULT_START_NS + round(word.end_s * 1e9)
        last_frame = DEFAULT_START_NS + round(math.floor(word.end_s * FPS) * 1e9 / FPS)
        assert bag_ns == stamp_ns(msg.header.stamp) == last_frame  # a camera frame's stamp
        assert (msg.score, list(msg.top_labels), list(msg.top_scores)) == (1.0, [word.word], [1.0])


def test_cli_writes_a_compressed_sign_bag(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bag = tmp_path / "sign"
    argv = ["write-synthetic", str(bag), "--kind", "sign", "--frames", "30", "--fps", "15", "--size", "96x72"]
    assert main([*argv, "--compressed", "--storage", "sqlite3"]) == 0
    assert SIGNS_TOPIC in capsys.readouterr().out
    counts = {t.name: (t.msgtype, t.count) for t in bag_info(bag).topics}
    assert counts[COMPRESSED_TOPIC] == ("sensor_msgs/msg/CompressedImage", 30)
    assert counts[SIGNS_TOPIC][0] == SIGN_TYPE
    _, _, first = next(read_messages(bag, [COMPRESSED_TOPIC]))
    assert compressed_to_numpy(first).shape == (72, 96, 3)

    assert main(["write-synthetic", str(tmp_path / "x"), "--kind", "sign", "--include", "knife"]) == 1
