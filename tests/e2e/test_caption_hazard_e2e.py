"""Held-out synthetic bags with and without knives through the hazard node's evidence sources.

Over real DDS, the nodes started as the launch graph describes them, as separate processes and
in the single-process container (single_process:=true). Two evidence sources, run
separately so each is measured on its own (the cooldown is shared across sources):

- ``caption``: caption_node -> hazard_node (no detector in the graph): measures the captioner;
- ``detection``: detector_node -> hazard_node (``use_detections`` on): the second source the
  issue allows.

A knife bag must raise exactly one "knife" HazardAlert (the rule's 30 s cooldown spans the
bag) within the first ``ALERT_WITHIN`` outputs of the source (the harness replays only once
the hazard node's inputs are connected), citing an output that names the knife; and the source
must name the knife in every run of ``ALERT_WITHIN`` consecutive outputs, so on a live robot an
alert follows within that many frames of whenever the hazard node starts listening. A
knife-free bag must raise no knife alert.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from perception.bags.reading import read_messages
from perception.bringup.graph import GraphOptions, build_graph, output_topic
from perception_training.bags.bag_graph import run_graph_on_bag
from perception_training.bags.synthetic import write_synthetic_bag

from e2e_support import PROCESS_MODES, messages_by_stamp, require_model, stamp_ns

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
FRAMES = 20
ALERT_WITHIN = 5  # outputs; = frames while the node keeps up with the camera
RATE = 0.5  # replay at 5 fps so the nodes keep up on a busy 2-core CPU
SEED = 23  # held out: not a training seed of the models
MIN_DETECTION_SCORE = 0.5  # the hazard node's default


@dataclass(frozen=True)
class Source:
    """One evidence source: the nodes to run and how to read what it said."""

    model: str
    nodes: tuple[str, ...]
    topic: str
    alert_source: str  # HazardAlert.source of alerts it raises
    overrides: dict[str, dict[str, Any]]

    def names_knife(self, msg: Any) -> bool:
        if self.topic == "caption":
            return any(word in msg.text.lower().split() for word in ("knife", "knives"))
        return any(d.class_name == "knife" and d.score >= MIN_DETECTION_SCORE for d in msg.detections)

    def describe(self, msg: Any) -> str:
        if self.topic == "caption":
            return msg.text
        return ", ".join(f"{d.class_name} {d.score:.2f}" for d in msg.detections) or "nothing"


SOURCES = {
    "caption": Source(
        "captioner/mnv3_gru_en.safetensors",
        ("caption", "hazard"),
        "caption",
        "caption",
        {"caption_node": {"max_rate_hz": 0.0, "device": "cpu"}},  # no detector runs: captions only
    ),
    "detection": Source(
        "detector/yolo11n_synthetic.safetensors",
        ("detector", "hazard"),
        "detections",
        "detection",
        {"detector_node": {"device": "cpu", "debug_image": False}, "hazard_node": {"use_detections": True}},
    ),
}


@pytest.fixture(scope="module", params=[(s, m) for s in sorted(SOURCES) for m in PROCESS_MODES], ids="-".join)
def source_runs(request, tmp_path_factory: pytest.TempPathFactory) -> tuple[Source, dict[str, tuple]]:
    name, mode = request.param
    source = SOURCES[name]
    require_model(source.model)
    root = tmp_path_factory.mktemp(f"{name}_hazard_e2e_{mode}")
    runs = {}
    for name, scene in (("knife", {"include": ["knife"]}), ("no_knife", {"exclude": ["knife"]})):
        bag = write_synthetic_bag(
            root / name, FRAMES, fps=10, seed=SEED, split="test", kind="caption", **scene
        )
        run = run_graph_on_bag(
            bag,
            root / f"{name}_out",
            list(source.nodes),
            [source.topic, "hazard_alerts"],
            overrides=source.overrides,
            rate=RATE,
            single_process=mode == "single",
        )
        runs[name] = (bag, run)
    return source, runs


def outputs(source: Source, run) -> dict[int, Any]:
    graph = build_graph(source.nodes, GraphOptions())
    return messages_by_stamp(run.recorded, output_topic(graph, source.topic, GraphOptions().namespace))


def knife_alerts(run) -> list:
    return [
        m for _, _, m in read_messages(run.recorded, ["/perception/hazard_alerts"]) if m.hazard == "knife"
    ]


def test_outputs_belong_to_input_frames_and_the_bags_are_what_they_claim(source_runs) -> None:
    source, runs = source_runs
    for name, (bag, run) in runs.items():
        frames = messages_by_stamp(bag, "/camera/image_raw")
        produced = outputs(source, run)
        assert len(produced) >= FRAMES // 2, f"{name}: only {len(produced)} of {FRAMES} frames processed"
        for stamp, msg in produced.items():
            assert stamp in frames and msg.header.frame_id == frames[stamp].header.frame_id
        truth = messages_by_stamp(bag, "/ground_truth/detections").values()
        with_knife = sum(any(d.class_name == "knife" for d in t.detections) for t in truth)
        assert with_knife == (FRAMES if name == "knife" else 0), f"{name}: the synthetic bag is wrong"


def test_a_knife_scene_raises_one_knife_alert_within_a_few_frames(source_runs) -> None:
    source, runs = source_runs
    _, run = runs["knife"]
    produced = outputs(source, run)
    named = [source.names_knife(produced[s]) for s in sorted(produced)]
    detail = f"{source.topic}: knife named in {sum(named)}/{len(named)} outputs: " + "; ".join(
        source.describe(produced[s]) for s in sorted(produced)
    )
    gaps = [i for i in range(len(named) - ALERT_WITHIN + 1) if not any(named[i : i + ALERT_WITHIN])]
    assert not gaps, f"no knife in the {ALERT_WITHIN} outputs from output(s) {gaps}; {detail}"

    alerts = knife_alerts(run)
    assert len(alerts) == 1, f"{len(alerts)} knife alerts in {FRAMES} frames (30 s cooldown); {detail}"
    (alert,) = alerts
    first = sorted(produced).index(stamp_ns(alert.header)) if stamp_ns(alert.header) in produced else None
    assert first is not None and first < ALERT_WITHIN, f"knife alert at output {first}; {detail}"
    cited = produced.get(stamp_ns(alert.header))
    assert cited is not None and source.names_knife(cited), f"the alert cites no knife: {alert.evidence}"
    assert alert.source == source.alert_source and alert.severity == alert.SEVERITY_DANGER
    assert alert.header.frame_id == cited.header.frame_id and "knife" in alert.message.lower()
    if source.topic == "caption":
        assert alert.evidence == cited.text
    else:
        assert alert.evidence.startswith("detection: knife ")


def test_a_knife_free_scene_raises_no_knife_alert(source_runs) -> None:
    source, runs = source_runs
    _, run = runs["no_knife"]
    produced = outputs(source, run)
    false = [source.describe(m) for m in produced.values() if source.names_knife(m)]
    assert not false, f"{source.topic} named a knife that is not there: {false}"
    assert not knife_alerts(run), f"false knife alerts: {[a.evidence for a in knife_alerts(run)]}"
