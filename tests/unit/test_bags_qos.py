"""rosbag2's QoS adaptation rule, as replay and record apply it."""

from __future__ import annotations

from pathlib import Path

from rosbags.rosbag2 import Reader

from perception.bags.qos import DEFAULT_DEPTH, Offer, adapted_offer, offer_from_rosbags, rosbags_qos
from perception.bags.storage import create_writer
from perception.bags.typestore import perception_typestore


def test_no_offers_means_reliable_volatile_default_depth() -> None:
    assert adapted_offer([]) == Offer(reliable=True, transient_local=False, depth=DEFAULT_DEPTH)


def test_one_best_effort_offer_makes_it_best_effort() -> None:
    offers = [Offer(reliable=True, depth=5), Offer(reliable=False, depth=30)]
    assert adapted_offer(offers) == Offer(reliable=False, transient_local=False, depth=30)


def test_transient_local_only_when_every_offer_is() -> None:
    assert adapted_offer([Offer(transient_local=True)] * 2).transient_local
    assert not adapted_offer([Offer(transient_local=True), Offer(transient_local=False)]).transient_local


def test_stored_offer_survives_the_bag_metadata_round_trip(tmp_path: Path) -> None:
    offer = Offer(reliable=False, transient_local=True, depth=7)
    with create_writer(tmp_path / "bag", "sqlite3", 8) as writer:
        writer.add_connection(
            "/x",
            "std_msgs/msg/String",
            typestore=perception_typestore(),
            offered_qos_profiles=[rosbags_qos(offer)],
        )
    with Reader(tmp_path / "bag") as reader:
        (stored,) = reader.connections[0].ext.offered_qos_profiles
    assert offer_from_rosbags(stored) == offer
