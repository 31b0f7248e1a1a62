"""QoS offers as rosbag2 stores them, and rosbag2's rule for adapting to several of them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime

DEFAULT_DEPTH = 10


class Offer(NamedTuple):
    """The QoS parts that decide whether a publisher and a subscription match."""

    reliable: bool = True
    transient_local: bool = False
    depth: int = DEFAULT_DEPTH


def adapted_offer(offers: Iterable[Offer]) -> Offer:
    """One offer compatible with all of ``offers``, the rule `ros2 bag play/record` use.

    Reliable only when every offer is reliable (or there is none), transient-local only when
    every offer is; depth is the largest offered, at least 10.
    """
    offers = list(offers)
    return Offer(
        reliable=all(offer.reliable for offer in offers),
        transient_local=bool(offers) and all(offer.transient_local for offer in offers),
        depth=max([DEFAULT_DEPTH, *(offer.depth for offer in offers)]),
    )


def offer_from_rosbags(qos: Qos) -> Offer:
    """An offer recorded in a bag's metadata (any rosbag2 version rosbags parses)."""
    return Offer(
        reliable=qos.reliability == QosReliability.RELIABLE,
        transient_local=qos.durability == QosDurability.TRANSIENT_LOCAL,
        depth=qos.depth,
    )


def rosbags_qos(offer: Offer) -> Qos:
    """The offered-QoS entry stored in a bag's metadata, for replay to adapt to."""
    unset = QosTime(0, 0)
    return Qos(
        history=QosHistory.KEEP_LAST,
        depth=offer.depth,
        reliability=QosReliability.RELIABLE if offer.reliable else QosReliability.BEST_EFFORT,
        durability=QosDurability.TRANSIENT_LOCAL if offer.transient_local else QosDurability.VOLATILE,
        deadline=unset,
        lifespan=unset,
        liveliness=QosLiveliness.AUTOMATIC,
        liveliness_lease_duration=unset,
        avoid_ros_namespace_conventions=False,
    )
