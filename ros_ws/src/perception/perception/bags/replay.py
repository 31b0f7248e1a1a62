"""Replay a bag onto live topics: stored CDR bytes published unchanged, recorded timing kept.

Like `ros2 bag play`: header stamps stay as recorded, inter-message gaps are scaled by
``rate``, publisher QoS is adapted to what the recording publishers offered.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from rclpy.node import Node
from rclpy.publisher import Publisher
from rosbags.interfaces import Connection

from perception.bags.graph import message_class, rclpy_qos, unmatched, wait_until
from perception.bags.qos import adapted_offer, offer_from_rosbags
from perception.bags.reading import BagError, open_bag, select_connections

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReplayStats:
    """What a replay did."""

    published: int
    loops: int
    wall_s: float
    # (bag timestamp, wall clock when published) of each message, both ns: latency measurements
    # pair an output's receive time with the publish time of the frame it came from.
    sent_ns: list[tuple[int, int]] = field(default_factory=list)


def replay_bag(
    path: str | Path,
    node: Node,
    *,
    rate: float = 1.0,
    loop: bool = False,
    start_offset_s: float = 0.0,
    topics: Collection[str] | None = None,
    remap: Mapping[str, str] | None = None,
    wait_for_subscribers_s: float = 0.0,
    stop: threading.Event | None = None,
) -> ReplayStats:
    """Publish the bag's messages on ``node`` with recorded timing scaled by ``rate``.

    Waits up to ``wait_for_subscribers_s`` for every replayed topic to have a subscriber (then
    starts anyway, logging the unmatched ones). ``stop`` ends a replay (e.g. a loop) early.
    Topics whose message type is not importable here are skipped with a warning, unless they
    were asked for by name in ``topics``.
    """
    if rate <= 0:
        raise ValueError(f"rate must be > 0, got {rate}; use 1.0 for recorded speed")
    stop = stop or threading.Event()
    remap = dict(remap or {})
    published = loops = 0
    sent_ns: list[tuple[int, int]] = []
    began = time.monotonic()
    with open_bag(path) as reader:
        connections = select_connections(reader, topics)
        if not any(c.msgcount for c in connections):
            raise BagError(f"{reader.path} has no messages on {sorted({c.topic for c in connections})}")
        start_ns = reader.start_time + int(start_offset_s * 1e9)
        if start_ns >= reader.end_time:
            raise BagError(f"start offset {start_offset_s} s is past the end of {reader.path}")
        publishers: dict[str, Publisher] = {}
        try:
            for connection in _one_per_topic(connections):
                try:
                    publishers[connection.topic] = _publisher(node, connection, remap)
                except LookupError as error:
                    if topics is not None:
                        raise
                    LOG.warning("skipping %s: %s", connection.topic, error)
            connections = [c for c in connections if c.topic in publishers]
            if wait_for_subscribers_s > 0 and not wait_until(
                lambda: not unmatched(publishers), wait_for_subscribers_s
            ):
                LOG.warning("starting replay although %s have no subscriber", unmatched(publishers))
            while not stop.is_set():
                loop_start = time.monotonic_ns()
                for connection, timestamp, raw in reader.messages(connections=connections, start=start_ns):
                    due_s = (loop_start + (timestamp - start_ns) / rate - time.monotonic_ns()) / 1e9
                    if due_s > 0 and stop.wait(due_s):
                        break
                    publishers[connection.topic].publish(raw)
                    sent_ns.append((timestamp, time.time_ns()))
                    published += 1
                loops += 1
                if not loop:
                    break
        finally:
            for publisher in publishers.values():
                node.destroy_publisher(publisher)
    return ReplayStats(published=published, loops=loops, wall_s=time.monotonic() - began, sent_ns=sent_ns)


def _one_per_topic(connections: list[Connection]) -> list[Connection]:
    """A bag may hold several connections (recording sessions) per topic; publish each topic once."""
    by_topic: dict[str, Connection] = {}
    for connection in connections:
        if by_topic.setdefault(connection.topic, connection).msgtype != connection.msgtype:
            raise BagError(f"topic {connection.topic} has two types in the bag; replay them separately")
    return list(by_topic.values())


def _publisher(node: Node, connection: Connection, remap: Mapping[str, str]) -> Publisher:
    offers = [offer_from_rosbags(qos) for qos in getattr(connection.ext, "offered_qos_profiles", [])]
    topic = remap.get(connection.topic, connection.topic)
    LOG.info("replaying %s -> %s [%s]", connection.topic, topic, connection.msgtype)
    return node.create_publisher(message_class(connection.msgtype), topic, rclpy_qos(adapted_offer(offers)))
