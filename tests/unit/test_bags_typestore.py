"""The bag typestore registers perception_msgs from the .msg files, matching rosidl's hashes."""

from __future__ import annotations

import dataclasses
import importlib
import sys
from pathlib import Path

import pytest
import rclpy

from perception.bags import typestore as typestore_module
from perception.bags.typestore import msg_directory, perception_typestore

REPO = Path(__file__).resolve().parents[2]
MSG_FILES = sorted((REPO / "ros_ws/src/perception_msgs/msg").glob("*.msg"))
OUR_TYPES = [f"perception_msgs/msg/{path.stem}" for path in MSG_FILES]


def test_every_msg_file_is_registered() -> None:
    assert len(OUR_TYPES) >= 7
    registered = {name for name in perception_typestore().types if name.startswith("perception_msgs/")}
    assert registered == set(OUR_TYPES)
    assert "sensor_msgs/msg/Image" in perception_typestore().types


def test_constants_and_fields_come_from_the_msg_files() -> None:
    types = perception_typestore().types
    assert types["perception_msgs/msg/Detection"].TRACK_NONE == -1
    assert types["perception_msgs/msg/HazardAlert"].SEVERITY_DANGER == 2
    fields = dataclasses.fields(types["perception_msgs/msg/GlassClassification"])
    assert [field.name for field in fields if not field.name.startswith("__")] == [
        "detection",
        "glass_type",
        "glass_type_id",
        "score",
        "fragile",
    ]


def test_type_hashes_agree_with_rosidl_generated_messages() -> None:
    """The live graph reports the hash rosidl generated; a bag must carry the same one."""
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        node = rclpy.create_node("hash_probe", context=context)
        for msgtype in OUR_TYPES:
            package, _, name = msgtype.split("/")
            cls = getattr(importlib.import_module(f"{package}.msg"), name)
            topic = f"/hash_probe/{name.lower()}"
            node.create_publisher(cls, topic, 1)
            (info,) = node.get_publishers_info_by_topic(topic)
            assert str(info.topic_type_hash) == perception_typestore().hash_rihs01(msgtype), msgtype
        node.destroy_node()
    finally:
        context.try_shutdown()


def test_falls_back_to_source_tree(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("AMENT_PREFIX_PATH", raising=False)
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    assert msg_directory() == REPO / "ros_ws/src/perception_msgs/msg"


def test_missing_msg_files_raise_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("AMENT_PREFIX_PATH", raising=False)
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    monkeypatch.setattr(typestore_module, "_SOURCE_TREE", tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match=r"no perception_msgs \.msg files found.*colcon build"):
        msg_directory()


@pytest.mark.parametrize("name", ["DetectionArray", "Caption", "GlassClassificationArray", "SignLabel"])
def test_msg_file_defaults_hold_in_bag_messages_as_in_rclpy(name: str) -> None:
    """A bag writer may leave out a field its .msg gives a default (domain_score, in_domain),
    and gets the value rclpy gives; fields passed, by keyword or position, win."""
    live = getattr(importlib.import_module("perception_msgs.msg"), name)()
    message_class = perception_typestore().types[f"perception_msgs/msg/{name}"]
    fields = [f.name for f in dataclasses.fields(message_class) if not f.name.startswith("__")]
    required = {f: getattr(live, f) for f in fields if f not in ("domain_score", "in_domain")}
    built = message_class(**required)
    assert (built.domain_score, built.in_domain) == (live.domain_score, live.in_domain) == (-1.0, True)
    assert message_class(**required, in_domain=False).in_domain is False
    scored = {**required, "domain_score": 2.5, "in_domain": False}
    positional = message_class(*[scored[f] for f in fields])
    assert (positional.domain_score, positional.in_domain) == (2.5, False)
