"""What the nodes of one process share: one camera subscription and the topics between them.

``perception.bringup.container`` runs the whole graph in one process. Without this, each image
node would subscribe to the camera itself (rclpy has no intra-process transport: every node's
copy crosses DDS, is deserialised and decoded again), and the glass and hazard nodes would
receive the detector's results through DDS as well.

- ``SharedCamera``: one subscription per camera topic (and message type and QoS), owned by the
  container's node; each message becomes one ``SharedImage`` handed to every attached node.
- ``LocalBus``: topics a node of this process publishes (declared by the container from the
  graph). Such an output is still published on DDS for everyone else, and the message object
  itself goes to the in-process subscribers, unserialised (they only read it).

Both deliver through an ``Inbox`` of the receiving node, so its callbacks run in its own
callback group as a subscription's would.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from rclpy.node import Node
from rclpy.qos import QoSProfile
from rclpy.subscription import Subscription

from perception.nodes.framework.frames import SharedImage
from perception.nodes.framework.inbox import Inbox


class LocalBus:
    """In-process delivery of the topics in ``topics`` (fully qualified names)."""

    def __init__(self, topics: Iterable[str]) -> None:
        self._topics = frozenset(topics)
        self._lock = threading.Lock()
        self._inboxes: dict[str, list[Inbox[Any]]] = {}

    def carries(self, topic: str) -> bool:
        return topic in self._topics

    def subscribe(self, node: Node, topic: str, callback: Callable[[Any], None], depth: int) -> Inbox[Any]:
        inbox: Inbox[Any] = Inbox(node, callback, depth)
        with self._lock:
            self._inboxes.setdefault(topic, []).append(inbox)
        return inbox

    def unsubscribe(self, topic: str, inbox: Inbox[Any]) -> None:
        with self._lock:
            self._inboxes[topic].remove(inbox)
        inbox.close()

    def publish(self, topic: str, msg: Any) -> None:
        with self._lock:
            inboxes = list(self._inboxes.get(topic, ()))
        for inbox in inboxes:
            inbox.put(msg)


@dataclass
class _Feed:
    subscription: Subscription
    inboxes: list[Inbox[SharedImage]]


@dataclass(frozen=True)
class CameraAttachment:
    key: tuple[Any, ...]
    inbox: Inbox[SharedImage]


class SharedCamera:
    """Camera subscriptions on ``owner`` shared by every attached node, made on first attach and
    destroyed on last detach (a node deactivating leaves the others' feed alone)."""

    def __init__(self, owner: Node) -> None:
        self._owner = owner
        self._lock = threading.Lock()
        self._feeds: dict[tuple[Any, ...], _Feed] = {}

    def attach(
        self,
        node: Node,
        msg_type: type,
        topic: str,
        qos: QoSProfile,
        callback: Callable[[SharedImage], None],
    ) -> CameraAttachment:
        key = (msg_type, topic, qos.reliability, qos.depth)
        inbox: Inbox[SharedImage] = Inbox(node, callback, qos.depth)
        with self._lock:
            feed = self._feeds.get(key)
            if feed is None:
                subscription = self._owner.create_subscription(
                    msg_type, topic, lambda msg, k=key: self._deliver(k, msg), qos
                )
                feed = self._feeds[key] = _Feed(subscription, [])
            feed.inboxes.append(inbox)
        return CameraAttachment(key, inbox)

    def detach(self, attachment: CameraAttachment) -> None:
        with self._lock:
            feed = self._feeds[attachment.key]
            feed.inboxes.remove(attachment.inbox)
            if not feed.inboxes:
                del self._feeds[attachment.key]
                self._owner.destroy_subscription(feed.subscription)
        attachment.inbox.close()

    @property
    def subscriptions(self) -> int:
        """Camera subscriptions open now (one per topic, however many nodes read it)."""
        with self._lock:
            return len(self._feeds)

    def _deliver(self, key: tuple[Any, ...], msg: Any) -> None:
        shared = SharedImage(msg)
        with self._lock:
            feed = self._feeds.get(key)
            inboxes = list(feed.inboxes) if feed else []
        for inbox in inboxes:
            inbox.put(shared)


@dataclass(frozen=True)
class InProcess:
    """Handed to every node the container builds (``in_process=`` keyword)."""

    camera: SharedCamera
    bus: LocalBus
