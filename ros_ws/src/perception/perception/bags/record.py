"""Record live topics into a rosbag2 bag: raw CDR subscriptions feeding the rosbags Writer.

Like `ros2 bag record`: message types come from the live graph, the subscription QoS is
adapted to the publishers' offers, each message is stamped with its receive time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from pathlib import Path
from types import TracebackType

from rclpy.node import Node
from rclpy.subscription import Subscription
from rosbags.interfaces import Connection
from rosbags.rosbag2 import WriterError

from perception.bags.graph import message_class, offer_from_rclpy, rclpy_qos, wait_until
from perception.bags.qos import Offer, adapted_offer, rosbags_qos
from perception.bags.storage import create_writer
from perception.bags.typestore import perception_typestore

LOG = logging.getLogger(__name__)
DEFAULT_MAX_QUEUED_BYTES = 256 * 1024 * 1024  # ~20 s of 1080p bgr8 at 2 Hz, or 1.4 s at 30 Hz


class RecordError(RuntimeError):
    """Recording cannot start: a topic is not on the graph or its type is unknown."""


class BagRecorder:
    """Records ``topics`` from ``node``'s graph into a new bag at ``out`` until closed.

    Use as a context manager (or call :meth:`close`) so the bag is always finalised. The
    node must be spun by the caller; ``max_messages`` stops writing once reached and sets
    :attr:`done`. Every Writer call runs on one dedicated thread: sqlite3 connections only
    work on the thread that opened them, and callbacks never wait for the disk. Messages
    waiting for that thread are bounded by ``max_queued_bytes`` (like rosbag2's cache): when
    the disk cannot keep up, new messages are dropped and counted in :attr:`dropped` instead of
    growing memory until the robot runs out.
    """

    def __init__(
        self,
        node: Node,
        out: str | Path,
        topics: Sequence[str],
        *,
        storage: str = "mcap",
        version: int = 9,
        max_messages: int | None = None,
        discovery_timeout_s: float = 5.0,
        max_queued_bytes: int = DEFAULT_MAX_QUEUED_BYTES,
    ) -> None:
        writer = create_writer(out, storage, version)
        self.node = node
        self.out = Path(out)
        self.max_messages = max_messages
        self.max_queued_bytes = max_queued_bytes
        self.count = 0
        self.dropped = 0
        self._queued_bytes = 0
        self._bytes_lock = threading.Lock()
        self.done = threading.Event()
        self._lock = threading.Lock()
        self._subscriptions: list[Subscription] = []
        types = self._discover(topics, discovery_timeout_s)
        typestore = perception_typestore()
        unknown = sorted({t for t in types.values() if t not in typestore.types})
        if unknown:
            raise RecordError(f"cannot record types {unknown}: not in the typestore (no message definition)")
        self._io: ThreadPoolExecutor | None = ThreadPoolExecutor(1, thread_name_prefix="bag-writer")
        self._writer = writer
        try:
            self._io.submit(writer.open).result()
        except WriterError as error:
            self._io.shutdown()
            self._io = None
            raise RecordError(f"cannot create bag {self.out}: {error}; choose a new output folder") from error
        try:
            for topic, msgtype in types.items():
                offer = self._offer_for(topic)
                connection = self._io.submit(
                    writer.add_connection,
                    topic,
                    msgtype,
                    typestore=typestore,
                    offered_qos_profiles=[rosbags_qos(offer)],
                ).result()
                self._subscriptions.append(
                    node.create_subscription(
                        message_class(msgtype),
                        topic,
                        self._writer_callback(connection),
                        rclpy_qos(offer),
                        raw=True,
                    )
                )
                LOG.info("recording %s [%s]", topic, msgtype)
        except BaseException:
            self.close()
            raise

    def _discover(self, topics: Sequence[str], timeout_s: float) -> dict[str, str]:
        """Wait until every topic has a publisher on the graph; return topic -> type."""
        wanted = [self.node.resolve_topic_name(topic) for topic in topics]

        def missing() -> list[str]:
            return [topic for topic in wanted if not self.node.get_publishers_info_by_topic(topic)]

        if not wait_until(lambda: not missing(), timeout_s):
            raise RecordError(
                f"no publisher found for {missing()} within {timeout_s} s; start the publishers first "
                "or raise the discovery timeout (check ROS_DOMAIN_ID / ROS_AUTOMATIC_DISCOVERY_RANGE)"
            )
        return {topic: self.node.get_publishers_info_by_topic(topic)[0].topic_type for topic in wanted}

    def _offer_for(self, topic: str) -> Offer:
        return adapted_offer(
            offer_from_rclpy(info.qos_profile) for info in self.node.get_publishers_info_by_topic(topic)
        )

    def _writer_callback(self, connection: Connection) -> Callable[[bytes], None]:
        def write(raw: bytes) -> None:
            stamp = self.node.get_clock().now().nanoseconds
            with self._lock:
                if self._io is None or self.done.is_set():
                    return
                with self._bytes_lock:
                    full = self._queued_bytes + len(raw) > self.max_queued_bytes
                    if not full:
                        self._queued_bytes += len(raw)
                if full:
                    self.dropped += 1
                    if self.dropped == 1 or self.dropped % 100 == 0:
                        LOG.warning(
                            "the disk is not keeping up: %d message(s) dropped so far (%d bytes waiting, "
                            "limit %d); record fewer or compressed topics, or raise max_queued_bytes",
                            self.dropped,
                            self._queued_bytes,
                            self.max_queued_bytes,
                        )
                    return
                future = self._io.submit(self._writer.write, connection, stamp, raw)
                future.add_done_callback(partial(self._written, size=len(raw)))
                self.count += 1
                if self.max_messages is not None and self.count >= self.max_messages:
                    self.done.set()

        return write

    def _written(self, future: Future, size: int) -> None:
        # Its own lock: a future that is already done runs this inside write(), under _lock.
        with self._bytes_lock:
            self._queued_bytes -= size
        _log_failure(future)

    def close(self) -> Path:
        """Stop the subscriptions, write what is queued and finalise the bag (idempotent)."""
        for subscription in self._subscriptions:
            self.node.destroy_subscription(subscription)
        self._subscriptions = []
        with self._lock:
            io, self._io = self._io, None
            self.done.set()
        if io is not None:
            io.submit(self._writer.close).result()
            io.shutdown()
        return self.out

    def __enter__(self) -> BagRecorder:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _log_failure(future: Future) -> None:
    if future.exception() is not None:
        LOG.error("writing a message to the bag failed: %s", future.exception())
