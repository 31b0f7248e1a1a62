"""A held-out synthetic glass bag through the detector and glass nodes, as two processes and in
the single-process container (detections reach the glass node in-process there), over real DDS.

Each published glass is matched to a ground-truth glass of the same frame (IoU >= 0.5, one to
one, best first); the glass type must be right for >= 85 % of the matches of every type the
classifier knows, with enough matches per type that the test cannot pass on a handful.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pytest

from perception.core.detections import Detection
from perception.nodes.framework.conversions import detection_from_msg, detection_to_msg
from perception_msgs.msg import GlassClassification
from perception_training.bags.bag_graph import run_graph_on_bag
from perception_training.bags.synthetic import write_synthetic_bag

from e2e_support import PROCESS_MODES, messages_by_stamp, require_model

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
FRAMES = 24
MIN_IOU = 0.5
MIN_ACCURACY = 0.85
MIN_MATCHES_PER_TYPE = 5
GLASSES = "/perception/glasses"


@dataclass(frozen=True)
class Match:
    """A published glass and the ground-truth glass it was matched to."""

    predicted_type: str
    true_type: str
    true_type_id: int  # -1: a type the classifier does not know (the stemmed wine glass)
    fragile: bool
    true_fragile: bool


@pytest.fixture(scope="module", params=PROCESS_MODES)
def glass_run(request, tmp_path_factory: pytest.TempPathFactory):
    require_model("detector/yolo11n_synthetic.safetensors")
    require_model("glass/mobilenet_v2_glass.safetensors")
    root = tmp_path_factory.mktemp(f"glass_e2e_{request.param}")
    bag = write_synthetic_bag(root / "input", FRAMES, fps=10, seed=11, split="test", kind="glass")
    run = run_graph_on_bag(
        bag,
        root / "out",
        ["detector", "glass"],
        ["detections", "glasses"],
        rate=0.5,
        single_process=request.param == "single",
    )
    return bag, run


def match_frame(published, truth) -> list[Match]:
    """Greedy one-to-one matching of one frame's glasses by IoU, highest first."""
    pairs = sorted(
        (
            (detection_from_msg(p.detection).iou(detection_from_msg(t.detection)), i, j)
            for i, p in enumerate(published)
            for j, t in enumerate(truth)
        ),
        reverse=True,
    )
    used_p: set[int] = set()
    used_t: set[int] = set()
    matches = []
    for iou, i, j in pairs:
        if iou < MIN_IOU or i in used_p or j in used_t:
            continue
        used_p.add(i)
        used_t.add(j)
        p, t = published[i], truth[j]
        matches.append(Match(p.glass_type, t.glass_type, t.glass_type_id, p.fragile, t.fragile))
    return matches


def test_glass_outputs_carry_the_frame_header_and_the_detector_boxes(glass_run) -> None:
    bag, run = glass_run
    frames = messages_by_stamp(bag, "/camera/image_raw")
    detections = messages_by_stamp(run.recorded, "/perception/detections")
    glasses = messages_by_stamp(run.recorded, GLASSES)
    assert len(glasses) >= FRAMES // 2, f"only {len(glasses)} of {FRAMES} frames were classified"
    for stamp, out in glasses.items():
        assert stamp in frames, f"glasses stamp {stamp} matches no input frame"
        assert out.header.frame_id == frames[stamp].header.frame_id
        assert stamp in detections, f"glasses of stamp {stamp} without the detector's output for it"
        detector_boxes = {detection_from_msg(d).xyxy for d in detections[stamp].detections}
        for glass in out.glasses:
            assert glass.detection.class_name in ("cup", "wine glass")
            assert detection_from_msg(glass.detection).xyxy in detector_boxes


def test_per_type_accuracy_against_ground_truth(glass_run) -> None:
    bag, run = glass_run
    truth = messages_by_stamp(bag, "/ground_truth/glasses")
    glasses = messages_by_stamp(run.recorded, GLASSES)
    matches = [m for stamp, out in glasses.items() for m in match_frame(out.glasses, truth[stamp].glasses)]
    known = [m for m in matches if m.true_type_id >= 0]
    matched = Counter(m.true_type for m in known)
    correct = Counter(m.true_type for m in known if m.predicted_type == m.true_type)
    accuracy = {t: correct[t] / matched[t] for t in matched}
    confusion = Counter((m.true_type, m.predicted_type) for m in known)
    detail = f"accuracy {accuracy}, matches {dict(matched)}, (truth, predicted) counts {dict(confusion)}"
    published = sum(len(out.glasses) for out in glasses.values())
    assert len(matches) >= published // 2, f"most published glasses match no true glass: {detail}"
    assert set(matched) == {"cup", "beer_glass", "soju_glass"}, detail
    assert min(matched.values()) >= MIN_MATCHES_PER_TYPE, detail
    assert min(accuracy.values()) >= MIN_ACCURACY, detail
    fragile_right = sum(m.fragile == m.true_fragile for m in matches) / len(matches)
    assert fragile_right >= MIN_ACCURACY, f"fragile flag right for {fragile_right:.2f} of matches; {detail}"


def test_matching_is_one_to_one_and_needs_overlap() -> None:
    """The scorer itself: a box is matched at most once, to its best overlap; a far one not at all."""

    def glass(x: float, glass_type: str) -> GlassClassification:
        box = Detection(0, "cup", 1.0, x, 0.0, x + 10.0, 10.0)
        return GlassClassification(detection=detection_to_msg(box), glass_type=glass_type)

    truth = [glass(0, "cup"), glass(50, "soju_glass")]
    published = [glass(1, "cup"), glass(0, "beer_glass"), glass(200, "cup")]
    matches = match_frame(published, truth)
    assert [(m.predicted_type, m.true_type) for m in matches] == [("beer_glass", "cup")]
