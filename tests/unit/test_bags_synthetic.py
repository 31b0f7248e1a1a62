"""Synthetic camera bags: real rosbag2 files whose ground truth equals the world's scenes."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml

import perception_training.synthetic as world_module
from perception.bags.cli import main
from perception.bags.reading import BagError, bag_info, read_messages
from perception.core.glass import is_fragile
from perception.core.images import compressed_to_numpy, image_to_numpy
from perception_training.bags import synthetic as synthetic_module
from perception_training.bags.synthetic import (
    COMPRESSED_TOPIC,
    DEFAULT_START_NS,
    DETECTIONS_TOPIC,
    GLASSES_TOPIC,
    GROUND_TRUTH_CAPTION_TOPIC,
    IMAGE_TOPIC,
    write_synthetic_bag,
)

SIZE = (96, 72)


def stamp_ns(msg) -> int:
    return msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec


def grouped(bag: Path) -> dict[str, list]:
    """Messages of a bag per topic, in time order."""
    topics: dict[str, list] = {}
    for topic, _, msg in read_messages(bag):
        topics.setdefault(topic, []).append(msg)
    return topics


def test_cli_writes_a_bag_whose_ground_truth_is_the_world(tmp_path: Path, capsys) -> None:
    bag = tmp_path / "glass"
    argv = ["write-synthetic", str(bag), "--frames", "4", "--fps", "20", "--seed", "3", "--kind", "glass"]
    assert main([*argv, "--size", "96x72", "--include", "knife"]) == 0
    assert "/ground_truth/detections" in capsys.readouterr().out

    info = bag_info(bag)
    assert (info.storage, info.version) == ("mcap", 9)
    counts = {t.name: (t.msgtype, t.count) for t in info.topics}
    assert counts[IMAGE_TOPIC] == ("sensor_msgs/msg/Image", 4)
    assert counts[DETECTIONS_TOPIC] == ("perception_msgs/msg/DetectionArray", 4)
    assert counts[GLASSES_TOPIC] == ("perception_msgs/msg/GlassClassificationArray", 4)
    assert counts[GROUND_TRUTH_CAPTION_TOPIC] == ("perception_msgs/msg/Caption", 4)
    assert info.start_ns == DEFAULT_START_NS and info.duration_s == pytest.approx(0.15)

    messages = grouped(bag)
    world = world_module.SceneWorld(3)
    glass_seen = 0
    for index, (image, truth, glasses) in enumerate(
        zip(messages[IMAGE_TOPIC], messages[DETECTIONS_TOPIC], messages[GLASSES_TOPIC], strict=True)
    ):
        scene = world.scene(index, "test", "glass", SIZE, ["knife"], [])
        assert stamp_ns(image) == DEFAULT_START_NS + index * 50_000_000
        assert image.header == truth.header == glasses.header
        assert image.header.frame_id == "camera" and image.encoding == "bgr8"
        np.testing.assert_array_equal(image_to_numpy(image), scene.image)
        assert (truth.image_width, truth.image_height) == SIZE
        assert [
            (d.class_id, d.class_name, (d.x_min, d.y_min, d.x_max, d.y_max)) for d in truth.detections
        ] == [(o.class_id, o.class_name, o.box) for o in scene.objects]
        assert all(d.score == 1.0 for d in truth.detections)
        expected_glasses = [o for o in scene.objects if "glass_type" in o.attributes]
        assert [g.glass_type for g in glasses.glasses] == [
            o.attributes["glass_type"] for o in expected_glasses
        ]
        assert [g.fragile for g in glasses.glasses] == [is_fragile(g.glass_type) for g in glasses.glasses]
        for glass in glasses.glasses:
            ids = world_module.GLASS_TYPES
            assert glass.glass_type_id == (ids.index(glass.glass_type) if glass.glass_type in ids else -1)
        glass_seen += len(glasses.glasses)
    assert glass_seen > 0


@pytest.mark.parametrize(("storage", "version"), [("sqlite3", 8), ("sqlite3", 9), ("mcap", 8)])
def test_storage_plugins_and_versions(tmp_path: Path, storage: str, version: int) -> None:
    bag = write_synthetic_bag(tmp_path / "bag", 2, size=SIZE, storage=storage, version=version)
    metadata = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert (metadata["storage_identifier"], metadata["version"]) == (storage, version)
    assert bag_info(bag).message_count == 8  # image, detections, glasses, caption per frame
    assert len(list(read_messages(bag, [DETECTIONS_TOPIC]))) == 2


def test_compressed_frames(tmp_path: Path) -> None:
    bag = write_synthetic_bag(tmp_path / "jpeg", 2, size=SIZE, compressed=True, seed=1)
    frames = [msg for _, _, msg in read_messages(bag, [COMPRESSED_TOPIC])]
    assert [f.format for f in frames] == ["bgr8; jpeg compressed bgr8"] * 2
    scene = world_module.SceneWorld(1).scene(1, "test", "mixed", SIZE)
    decoded = compressed_to_numpy(frames[1])
    assert decoded.shape == scene.image.shape
    assert np.abs(decoded.astype(int) - scene.image).mean() < 8


def test_caption_is_the_first_english_reference(tmp_path: Path) -> None:
    bag = write_synthetic_bag(tmp_path / "captioned", 3, size=SIZE, seed=2)
    messages = grouped(bag)
    world = world_module.SceneWorld(2)
    assert len(messages[GROUND_TRUTH_CAPTION_TOPIC]) == 3
    for index, caption in enumerate(messages[GROUND_TRUTH_CAPTION_TOPIC]):
        assert caption.text == world_module.captions(world.scene(index, "test", "mixed", SIZE), "en")[0]
        assert (caption.language, caption.score, caption.model_id) == ("en", 1.0, "ground_truth")
        assert caption.header == messages[IMAGE_TOPIC][index].header


def test_no_caption_topic_when_the_world_has_no_captions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    without_captions = SimpleNamespace(
        SceneWorld=world_module.SceneWorld, GLASS_TYPES=world_module.GLASS_TYPES
    )
    monkeypatch.setattr(synthetic_module, "synthetic_world", lambda: without_captions)
    bag = write_synthetic_bag(tmp_path / "silent", 2, size=SIZE)
    assert GROUND_TRUTH_CAPTION_TOPIC not in {topic.name for topic in bag_info(bag).topics}
    assert bag_info(bag).message_count == 6


def test_bad_requests_raise_clear_errors(tmp_path: Path) -> None:
    bag = write_synthetic_bag(tmp_path / "bag", 1, size=SIZE)
    with pytest.raises(FileExistsError, match="already exists"):
        write_synthetic_bag(bag, 1, size=SIZE)
    with pytest.raises(BagError, match=r"no topic\(s\) \['/nope'\]"):
        list(read_messages(bag, ["/nope"]))
    with pytest.raises(BagError, match="not a rosbag2 bag folder"):
        bag_info(tmp_path / "missing")
    with pytest.raises(ValueError, match="unknown storage"):
        write_synthetic_bag(tmp_path / "x", 1, storage="rosbag1")
    assert main(["info", str(tmp_path / "missing")]) == 1
    with pytest.raises(SystemExit):
        main(["write-synthetic", str(tmp_path / "y"), "--size", "large"])
