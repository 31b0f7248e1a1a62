"""What `make demo` records: the graph's outputs a bag can hold."""

from __future__ import annotations

from perception.bringup.graph import build_graph
from perception_training.demo import recorded_topics

NODES = ["detector", "glass", "caption", "hazard", "sign"]


def test_demo_records_every_required_output_and_no_optional_one() -> None:
    recorded = recorded_topics(NODES)
    optional = {topic for spec in build_graph(NODES) for topic in spec.publishes if topic in spec.optional}
    assert "detections_2d" in optional and not optional & set(recorded)
    names = {topic.rsplit("/", 1)[-1] for topic in recorded}
    assert {"detections", "glasses", "caption", "hazard_alerts", "sign"} <= names
    assert len(recorded) == len(set(recorded))
