"""Held-out synthetic bags with and without knives through the caption + hazard node processes.

Over real DDS, started as the launch graph describes them. A knife bag must raise a "knife"
HazardAlert from a caption within the first ``ALERT_WITHIN`` frames, and only once (the rule's
30 s cooldown spans the whole bag); a knife-free bag must raise none. Only caption evidence is
used here (``use_detections`` off), so this measures the trained captioner, not the detector.
"""

from __future__ import annotations

import pytest

from perception.bags.reading import read_messages
from perception.bags.synthetic import write_synthetic_bag
from perception.bringup.bag_graph import run_graph_on_bag

from e2e_support import messages_by_stamp, require_model, stamp_ns

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
FRAMES = 20
ALERT_WITHIN = 5  # frames (0.5 s of camera time at 10 fps)
SEED = 23  # held out: not a training seed of the captioner
OVERRIDES = {
    "caption_node": {"max_rate_hz": 0.0, "device": "cpu"},  # caption every frame it can
    "hazard_node": {"use_detections": False},
}


def run_bag(root, name: str, **scene) -> tuple:
    bag = write_synthetic_bag(root / name, FRAMES, fps=10, seed=SEED, split="test", kind="caption", **scene)
    run = run_graph_on_bag(
        bag, root / f"{name}_out", ["caption", "hazard"], ["caption", "hazard_alerts"], overrides=OVERRIDES
    )
    return bag, run


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple]:
    require_model("captioner/mnv3_gru_en.safetensors")
    root = tmp_path_factory.mktemp("caption_hazard_e2e")
    return {
        "knife": run_bag(root, "knife", include=["knife"]),
        "no_knife": run_bag(root, "no_knife", exclude=["knife"]),
    }


def alerts(run) -> list:
    return [msg for _, _, msg in read_messages(run.recorded, ["/perception/hazard_alerts"])]


@pytest.mark.parametrize("name", ["knife", "no_knife"])
def test_captions_belong_to_input_frames_and_ground_truth_agrees(runs, name: str) -> None:
    bag, run = runs[name]
    frames = messages_by_stamp(bag, "/camera/image_raw")
    captions = messages_by_stamp(run.recorded, "/perception/caption")
    assert len(captions) >= FRAMES // 2, f"only {len(captions)} of {FRAMES} frames were captioned"
    for stamp, caption in captions.items():
        assert stamp in frames and caption.header.frame_id == frames[stamp].header.frame_id
        assert caption.language == "en" and caption.model_id.startswith("mnv3_gru_en.safetensors@")
    truth = messages_by_stamp(bag, "/ground_truth/caption")
    mentions = sum("knife" in t.text or "knives" in t.text for t in truth.values())
    assert mentions == (FRAMES if name == "knife" else 0), "the synthetic bag is not what the test needs"


def test_a_knife_scene_raises_one_knife_alert_within_the_first_frames(runs) -> None:
    bag, run = runs["knife"]
    stamps = sorted(messages_by_stamp(bag, "/camera/image_raw"))
    knife = [a for a in alerts(run) if a.hazard == "knife"]
    captions = messages_by_stamp(run.recorded, "/perception/caption")
    said = "; ".join(captions[s].text for s in sorted(captions)[:ALERT_WITHIN])
    assert knife, f"no knife alert; first captions: {said}"
    first = stamp_ns(knife[0].header)
    assert first in stamps[:ALERT_WITHIN], (
        f"first knife alert at frame {stamps.index(first)}, wanted < {ALERT_WITHIN}; first captions: {said}"
    )
    assert len(knife) == 1, f"{len(knife)} knife alerts in {FRAMES} frames: the 30 s cooldown was ignored"
    alert = knife[0]
    assert alert.source == "caption" and alert.severity == alert.SEVERITY_DANGER
    assert alert.evidence == captions[first].text and "knife" in alert.message.lower()


def test_a_knife_free_scene_raises_no_knife_alert(runs) -> None:
    _, run = runs["no_knife"]
    knife = [a for a in alerts(run) if a.hazard == "knife"]
    assert not knife, f"false knife alerts: {[a.evidence for a in knife]}"
