"""Open rosbag2 bags (sqlite3 or mcap, versions up to 9) and read or summarise them."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from rosbags.interfaces import Connection
from rosbags.rosbag2 import Reader, ReaderError

from perception.bags.typestore import perception_typestore


class BagError(RuntimeError):
    """A bag is missing, unreadable, or lacks what the caller asked for."""


@dataclass(frozen=True)
class TopicSummary:
    """One topic of a bag as `ros2 bag info` lists it."""

    name: str
    msgtype: str
    count: int


@dataclass(frozen=True)
class BagInfo:
    """What is in a bag: storage, format version, time span and topics."""

    path: Path
    storage: str
    version: int
    start_ns: int
    end_ns: int
    message_count: int
    topics: tuple[TopicSummary, ...]

    @property
    def duration_s(self) -> float:
        return max(0, self.end_ns - self.start_ns) / 1e9

    def format(self) -> str:
        """A human-readable summary like `ros2 bag info`."""
        lines = [
            f"Bag:       {self.path}",
            f"Storage:   {self.storage} (rosbag2 version {self.version})",
            f"Duration:  {self.duration_s:.3f} s",
            f"Start:     {_seconds(self.start_ns)}",
            f"End:       {_seconds(self.end_ns)}",
            f"Messages:  {self.message_count}",
            "Topics:",
        ]
        width = max((len(t.name) for t in self.topics), default=0)
        lines += [f"  {t.name:<{width}}  {t.msgtype:<45} {t.count:>7}" for t in self.topics]
        return "\n".join(lines)


def _seconds(stamp_ns: int) -> str:
    """Exact decimal seconds of a nanosecond stamp (a float would round the nanoseconds)."""
    return f"{stamp_ns // 10**9}.{stamp_ns % 10**9:09d}"


@contextmanager
def open_bag(path: str | Path) -> Iterator[Reader]:
    """An open rosbags Reader; a missing or corrupt bag raises BagError saying what to check."""
    path = Path(path)
    if path.is_file() and path.parent.joinpath("metadata.yaml").is_file():
        path = path.parent
    if not path.joinpath("metadata.yaml").is_file():
        raise BagError(
            f"{path} is not a rosbag2 bag folder (no metadata.yaml); pass the folder that "
            "`ros2 bag record -o` or `perception_bag record` created"
        )
    try:
        with Reader(path) as reader:
            yield reader
    except ReaderError as error:
        raise BagError(f"cannot read bag {path}: {error}") from error


def bag_info(path: str | Path) -> BagInfo:
    """Summarise a bag: topics, types, counts, duration."""
    path = Path(path)
    with open_bag(path) as reader:
        metadata = yaml.safe_load(reader.path.joinpath("metadata.yaml").read_text())
        info = metadata["rosbag2_bagfile_information"]
        topics = tuple(
            TopicSummary(name, topic.msgtype, topic.msgcount) for name, topic in sorted(reader.topics.items())
        )
        empty = reader.message_count == 0
        return BagInfo(
            path=reader.path,
            storage=info["storage_identifier"],
            version=int(info["version"]),
            start_ns=0 if empty else reader.start_time,
            end_ns=0 if empty else reader.end_time - 1,
            message_count=reader.message_count,
            topics=topics,
        )


def select_connections(reader: Reader, topics: Collection[str] | None) -> list[Connection]:
    """The reader's connections on ``topics`` (all when None); unknown topics raise BagError."""
    if topics is None:
        return list(reader.connections)
    missing = sorted(set(topics) - set(reader.topics))
    if missing:
        raise BagError(
            f"bag {reader.path} has no topic(s) {missing}; it has {sorted(reader.topics)} "
            "(see `perception_bag info`)"
        )
    return [c for c in reader.connections if c.topic in topics]


def read_messages(path: str | Path, topics: Collection[str] | None = None) -> Iterator[tuple[str, int, Any]]:
    """Yield ``(topic, bag_timestamp_ns, message)`` in time order, deserialised with our typestore.

    Messages are rosbags dataclasses (numpy arrays for uint8[] fields), so
    ``perception.core.images.image_to_numpy`` works on images directly.
    """
    typestore = perception_typestore()
    with open_bag(path) as reader:
        connections = select_connections(reader, topics)
        unknown = sorted({c.msgtype for c in connections} - set(typestore.types))
        if unknown:
            raise BagError(
                f"bag {reader.path} holds types {unknown} that this typestore does not know; "
                "read only the topics you need with topics=[...]"
            )
        for connection, timestamp, raw in reader.messages(connections=connections):
            yield connection.topic, timestamp, typestore.deserialize_cdr(raw, connection.msgtype)
