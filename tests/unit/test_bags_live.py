"""Replay and record against a live rclpy graph in this process (and the CLI in a child)."""

from __future__ import annotations

import itertools
import os
import signal
import sqlite3
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import rclpy
import yaml
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile
from rclpy.serialization import deserialize_message
from rosbags.rosbag2 import Reader
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from sensor_msgs.msg import Image
from std_msgs.msg import String

from perception.bags.cli import main
from perception.bags.graph import wait_until
from perception.bags.reading import BagError, bag_info, read_messages
from perception.bags.record import BagRecorder, RecordError
from perception.bags.replay import replay_bag
from perception.bags.storage import create_writer
from perception.bags.typestore import perception_typestore
from perception_msgs.msg import Caption
from perception_training.bags.synthetic import IMAGE_TOPIC, write_synthetic_bag

SIZE = (64, 48)
FRAMES = 6
FPS = 10.0

VOLATILE, TRANSIENT_LOCAL = 2, 1  # rmw durability enum values as Humble stores them


def humble_qos(durability: int) -> str:
    """Humble's rosbag2 (bag version 5) stores offered QoS as a YAML string."""
    return yaml.safe_dump(
        [
            {
                "history": 3,
                "depth": 0,
                "reliability": 1,
                "durability": durability,
                "deadline": {"sec": 2147483647, "nsec": 4294967295},
                "lifespan": {"sec": 2147483647, "nsec": 4294967295},
                "liveliness": 1,
                "liveliness_lease_duration": {"sec": 2147483647, "nsec": 4294967295},
                "avoid_ros_namespace_conventions": False,
            }
        ]
    )


# Humble's sqlite3 storage (schema 3): no message definitions, no type hashes.
HUMBLE_SCHEMA = """
CREATE TABLE schema(schema_version INTEGER PRIMARY KEY, ros_distro TEXT NOT NULL);
INSERT INTO schema VALUES (3, 'humble');
CREATE TABLE metadata(id INTEGER PRIMARY KEY, metadata_version INTEGER NOT NULL, metadata TEXT NOT NULL);
CREATE TABLE topics(id INTEGER PRIMARY KEY, name TEXT NOT NULL, type TEXT NOT NULL,
                    serialization_format TEXT NOT NULL, offered_qos_profiles TEXT NOT NULL);
CREATE TABLE messages(id INTEGER PRIMARY KEY, topic_id INTEGER NOT NULL, timestamp INTEGER NOT NULL,
                      data BLOB NOT NULL);
CREATE INDEX timestamp_idx ON messages (timestamp ASC);
"""


def humble_bag(source: Path, out: Path, durability: int = VOLATILE) -> Path:
    """``source``'s messages laid out as Humble's `ros2 bag record` writes them."""
    out.mkdir()
    offered = humble_qos(durability)
    database = f"{out.name}_0.db3"
    with Reader(source) as reader:
        connections = list(reader.connections)
        rows = [(c.id, t, raw) for c, t, raw in reader.messages()]
        start, duration = reader.start_time, reader.duration - 1
    with sqlite3.connect(out / database) as db:
        db.executescript(HUMBLE_SCHEMA)
        db.executemany(
            "INSERT INTO topics VALUES (?, ?, ?, 'cdr', ?)",
            [(c.id, c.topic, c.msgtype, offered) for c in connections],
        )
        db.executemany("INSERT INTO messages (topic_id, timestamp, data) VALUES (?, ?, ?)", rows)
    topics = [
        {
            "topic_metadata": {
                "name": c.topic,
                "type": c.msgtype,
                "serialization_format": "cdr",
                "offered_qos_profiles": offered,
            },
            "message_count": sum(1 for row in rows if row[0] == c.id),
        }
        for c in connections
    ]
    span = {
        "starting_time": {"nanoseconds_since_epoch": start},
        "duration": {"nanoseconds": duration},
        "message_count": len(rows),
    }
    metadata = {
        "version": 5,
        "storage_identifier": "sqlite3",
        "relative_file_paths": [database],
        **span,
        "topics_with_message_count": topics,
        "compression_format": "",
        "compression_mode": "",
        "files": [{"path": database, **span}],
    }
    (out / "metadata.yaml").write_text(yaml.safe_dump({"rosbag2_bagfile_information": metadata}))
    return out


@pytest.fixture
def ros() -> Iterator[Callable[[str], Node]]:
    """A private rclpy context whose nodes are spun on a background thread."""
    context = rclpy.Context()
    rclpy.init(context=context)
    executor = SingleThreadedExecutor(context=context)
    nodes: list[Node] = []

    def make_node(name: str) -> Node:
        node = rclpy.create_node(name, context=context)
        executor.add_node(node)
        nodes.append(node)
        return node

    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    yield make_node
    executor.shutdown()
    for node in nodes:
        node.destroy_node()
    context.try_shutdown()
    thread.join(timeout=5)


class Collector:
    """Raw CDR bytes and their arrival times on one topic."""

    def __init__(self, node: Node, topic: str, msg_class: type = Image) -> None:
        self.received: list[tuple[float, bytes]] = []
        node.create_subscription(msg_class, topic, self._store, QoSProfile(depth=100), raw=True)

    def _store(self, raw: bytes) -> None:
        self.received.append((time.monotonic(), raw))

    def wait_for(self, count: int, timeout_s: float = 10.0) -> list[bytes]:
        assert wait_until(lambda: len(self.received) >= count, timeout_s), f"got {len(self.received)}/{count}"
        return [raw for _, raw in self.received]


def stored_frames(bag: Path) -> list[bytes]:
    with Reader(bag) as reader:
        image = [c for c in reader.connections if c.topic == IMAGE_TOPIC]
        return [raw for _, _, raw in reader.messages(connections=image)]


def stamps(raws: list[bytes]) -> list[tuple[int, int]]:
    typestore = perception_typestore()
    headers = [typestore.deserialize_cdr(raw, "sensor_msgs/msg/Image").header for raw in raws]
    return [(h.stamp.sec, h.stamp.nanosec) for h in headers]


@pytest.fixture
def bag(tmp_path: Path) -> Path:
    return write_synthetic_bag(tmp_path / "mcap9", FRAMES, fps=FPS, size=SIZE, seed=5)


@pytest.mark.parametrize("layout", ["mcap-9", "sqlite3-8", "humble-sqlite3-5"])
def test_replay_delivers_every_frame_unchanged(
    tmp_path: Path, bag: Path, ros: Callable[[str], Node], layout: str
) -> None:
    if layout == "sqlite3-8":
        bag = write_synthetic_bag(
            tmp_path / "sqlite", FRAMES, fps=FPS, size=SIZE, seed=5, storage="sqlite3", version=8
        )
    elif layout == "humble-sqlite3-5":
        bag = humble_bag(bag, tmp_path / "humble")
        assert bag_info(bag).version == 5
    collector = Collector(ros("viewer"), IMAGE_TOPIC)
    stats = replay_bag(bag, ros("player"), topics=[IMAGE_TOPIC], wait_for_subscribers_s=10)
    assert stats.published == FRAMES
    received = collector.wait_for(FRAMES)
    expected = stored_frames(bag)
    assert received == expected
    assert stamps(received) == [(1_767_225_600, round(i * 1e9 / FPS)) for i in range(FRAMES)]


@pytest.mark.parametrize("rate", [1.0, 2.5])
def test_replay_keeps_recorded_timing_scaled_by_rate(
    bag: Path, ros: Callable[[str], Node], rate: float
) -> None:
    collector = Collector(ros("viewer"), IMAGE_TOPIC)
    replay_bag(bag, ros("player"), rate=rate, topics=[IMAGE_TOPIC], wait_for_subscribers_s=10)
    collector.wait_for(FRAMES)
    arrivals = [t for t, _ in collector.received]
    period = 1 / FPS / rate
    assert arrivals[-1] - arrivals[0] >= (FRAMES - 1) * period * 0.95, "replayed faster than recorded"
    # The median gap, not the total: one frame held up by a busy CPU must not fail the pacing.
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert period * 0.8 <= statistics.median(gaps) <= period * 1.25, f"gaps {gaps}, period {period}"


def test_cli_replay_with_remap_offset_and_loop(bag: Path, ros: Callable[[str], Node]) -> None:
    collector = Collector(ros("viewer"), "/remapped")
    argv = ["replay", str(bag), "--loop", "--rate", "4", "--start-offset", "0.2", "--topics", IMAGE_TOPIC]
    argv += ["--remap", f"{IMAGE_TOPIC}:=/remapped", "--wait-for-subscribers", "10"]

    def interrupt_after_nine() -> None:
        wait_until(lambda: len(collector.received) >= 9, 10)
        os.kill(os.getpid(), signal.SIGINT)

    stopper = threading.Thread(target=interrupt_after_nine)
    stopper.start()
    assert main(argv) == 0
    stopper.join()
    skipped = 2  # frames at 0.0 s and 0.1 s lie before the offset
    assert stamps(collector.wait_for(9)[:9]) == stamps(stored_frames(bag)[skipped:] * 3)[:9]


@pytest.mark.parametrize(
    ("durability", "expected"), [(VOLATILE, "VOLATILE"), (TRANSIENT_LOCAL, "TRANSIENT_LOCAL")]
)
def test_replay_adapts_qos_to_recorded_offers(
    tmp_path: Path, bag: Path, ros: Callable[[str], Node], durability: int, expected: str
) -> None:
    """Like rosbag2: latched (transient-local) recordings replay latched, others volatile."""
    humble = humble_bag(bag, tmp_path / "humble", durability)
    player = ros("player")
    done = threading.Event()
    thread = threading.Thread(target=lambda: replay_bag(humble, player, loop=True, stop=done))
    thread.start()
    try:
        assert wait_until(lambda: bool(player.get_publishers_info_by_topic(IMAGE_TOPIC)), 5)
        (info,) = player.get_publishers_info_by_topic(IMAGE_TOPIC)
        assert info.qos_profile.durability.name == expected
        assert info.qos_profile.reliability.name == "RELIABLE"
    finally:
        done.set()
        thread.join()


def test_record_captures_what_is_published(tmp_path: Path, ros: Callable[[str], Node]) -> None:
    talker = ros("talker")
    captions = talker.create_publisher(Caption, "/rec/caption", 10)
    recorder_node = ros("recorder")
    with BagRecorder(recorder_node, tmp_path / "rec", ["/rec/caption"], storage="sqlite3") as recorder:
        assert wait_until(lambda: captions.get_subscription_count() > 0, 10)
        sent = [f"frame {i}" for i in range(5)]
        for text in sent:
            msg = Caption(text=text, language="en", score=0.5)
            msg.header.stamp.sec = 42
            captions.publish(msg)
        assert wait_until(lambda: recorder.count == len(sent), 10)
    info = bag_info(tmp_path / "rec")
    assert (info.storage, info.topics[0].msgtype, info.topics[0].count) == (
        "sqlite3",
        "perception_msgs/msg/Caption",
        5,
    )
    got = [(msg.text, msg.language, msg.header.stamp.sec) for _, _, msg in read_messages(tmp_path / "rec")]
    assert got == [(text, "en", 42) for text in sent]


def test_record_drops_and_counts_what_the_disk_cannot_take_and_keeps_the_rest(
    tmp_path: Path, ros: Callable[[str], Node], monkeypatch: pytest.MonkeyPatch
) -> None:
    captions = ros("talker").create_publisher(Caption, "/slow/caption", 50)
    disk = threading.Event()  # the disk stalls until set
    sent = [f"frame {i:02d} " + "x" * 100 for i in range(20)]
    out = tmp_path / "slow"
    with BagRecorder(ros("recorder"), out, ["/slow/caption"], max_queued_bytes=1000) as recorder:
        write = recorder._writer.write
        monkeypatch.setattr(recorder._writer, "write", lambda *args: (disk.wait(10), write(*args)))
        try:
            assert wait_until(lambda: captions.get_subscription_count() > 0, 10)
            for i, text in enumerate(sent, 1):  # one at a time: the subscription's history is not tested
                captions.publish(Caption(text=text, language="en"))
                assert wait_until(lambda i=i: recorder.count + recorder.dropped == i, 10)
            assert 0 < recorder.count < len(sent) and recorder.dropped == len(sent) - recorder.count
        finally:
            disk.set()
    kept = [msg.text for _, _, msg in read_messages(out)]
    assert kept == sent[: recorder.count], "the messages queued before the stall are all written, in order"


def test_record_stops_at_max_messages_and_explains_missing_topics(
    tmp_path: Path, bag: Path, ros: Callable[[str], Node]
) -> None:
    recorder_node = ros("recorder")
    with pytest.raises(RecordError, match=r"no publisher found for \['/nobody'\]"):
        BagRecorder(recorder_node, tmp_path / "none", ["/nobody"], discovery_timeout_s=0.2)
    player = ros("player")
    stop = threading.Event()
    thread = threading.Thread(target=lambda: replay_bag(bag, player, loop=True, rate=5, stop=stop))
    thread.start()
    try:
        with BagRecorder(recorder_node, tmp_path / "capped", [IMAGE_TOPIC], max_messages=3) as recorder:
            assert recorder.done.wait(10)
    finally:
        stop.set()
        thread.join()
    assert bag_info(tmp_path / "capped").message_count == 3


def test_cli_record_finalises_the_bag_on_sigint(
    tmp_path: Path, bag: Path, ros: Callable[[str], Node], python_executable: str
) -> None:
    player = ros("player")
    stop = threading.Event()
    thread = threading.Thread(target=lambda: replay_bag(bag, player, loop=True, rate=2, stop=stop))
    thread.start()
    out = tmp_path / "cli_rec"
    child = subprocess.Popen(
        [python_executable, "-m", "perception.bags", "record", str(out), "--topics", IMAGE_TOPIC],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_until(lambda: _recording(out), 30)
        time.sleep(1.0)
        child.send_signal(signal.SIGINT)
        _, stderr = child.communicate(timeout=20)
    finally:
        stop.set()
        thread.join()
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0, stderr
    info = bag_info(out)
    assert info.topics[0].name == IMAGE_TOPIC and info.message_count >= 2
    assert set(stamps([raw for raw in stored_frames(out)])) <= set(stamps(stored_frames(bag)))


def _recording(out: Path) -> bool:
    """The recorder created its bag folder and storage file (metadata.yaml is written at close)."""
    return out.is_dir() and any(out.iterdir())


def test_replay_skips_types_this_environment_lacks(tmp_path: Path, ros: Callable[[str], Node]) -> None:
    """A user's bag may hold messages of packages not installed here: replay the rest."""
    typestore = get_typestore(Stores.ROS2_KILTED)
    typestore.register(get_types_from_msg("int32 value", "absent_msgs/msg/Thing"))
    types = typestore.types
    bag = tmp_path / "foreign"
    with create_writer(bag, "mcap", 9) as writer:
        thing = writer.add_connection("/thing", "absent_msgs/msg/Thing", typestore=typestore)
        words = writer.add_connection("/words", "std_msgs/msg/String", typestore=typestore)
        for i in range(3):
            writer.write(
                thing, i, typestore.serialize_cdr(types["absent_msgs/msg/Thing"](value=i), thing.msgtype)
            )
            text = types["std_msgs/msg/String"](data=f"word {i}")
            writer.write(words, i, typestore.serialize_cdr(text, words.msgtype))
    collector = Collector(ros("viewer"), "/words", String)
    player = ros("player")
    assert replay_bag(bag, player, wait_for_subscribers_s=10).published == 3
    received = [deserialize_message(raw, String).data for raw in collector.wait_for(3)]
    assert received == ["word 0", "word 1", "word 2"]
    with pytest.raises(LookupError, match="absent_msgs/msg/Thing is not importable"):
        replay_bag(bag, player, topics=["/thing"])
    with pytest.raises(BagError, match="past the end"):
        replay_bag(bag, player, start_offset_s=1.0)


def test_replay_of_an_empty_recording_says_so(tmp_path: Path, ros: Callable[[str], Node]) -> None:
    node = ros("recorder")
    node.create_publisher(String, "/quiet", 10)
    with BagRecorder(node, tmp_path / "empty", ["/quiet"]):
        pass
    assert bag_info(tmp_path / "empty").message_count == 0
    with pytest.raises(BagError, match=r"has no messages on \['/quiet'\]"):
        replay_bag(tmp_path / "empty", node)
