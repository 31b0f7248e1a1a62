"""rclpy glue shared by replay and record: message classes by name, QoS like rosbag2, matching."""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from typing import Any

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from perception.bags.qos import Offer


def message_class(msgtype: str) -> type:
    """The rclpy message class for ``pkg/msg/Name`` (or ``pkg/Name``), with a clear error."""
    package, *_, name = msgtype.split("/")
    try:
        return getattr(importlib.import_module(f"{package}.msg"), name)
    except (ImportError, AttributeError) as error:
        raise LookupError(
            f"message type {msgtype} is not importable in this environment ({error}); "
            f"install or source the workspace that provides {package}, or leave the topic out"
        ) from error


def rclpy_qos(offer: Offer) -> QoSProfile:
    """The rclpy profile for an offer (keep-last history)."""
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=offer.depth,
        reliability=ReliabilityPolicy.RELIABLE if offer.reliable else ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if offer.transient_local else DurabilityPolicy.VOLATILE,
    )


def offer_from_rclpy(profile: QoSProfile) -> Offer:
    """What a live publisher offers, from ``node.get_publishers_info_by_topic``."""
    return Offer(
        reliable=profile.reliability == ReliabilityPolicy.RELIABLE,
        transient_local=profile.durability == DurabilityPolicy.TRANSIENT_LOCAL,
        depth=profile.depth,
    )


def wait_until(condition: Callable[[], bool], timeout_s: float, poll_s: float = 0.02) -> bool:
    """Poll ``condition`` until it holds or ``timeout_s`` passes; return whether it held.

    DDS discovery runs on its own threads, so graph queries need no spinning.
    """
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll_s)
    return True


def unmatched(publishers: dict[str, Any]) -> list[str]:
    """Topics whose publisher has no matched subscription yet."""
    return sorted(topic for topic, publisher in publishers.items() if publisher.get_subscription_count() == 0)
