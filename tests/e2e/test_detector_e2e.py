"""A held-out synthetic bag through the detector node, in its own process and in the
single-process container, over real DDS."""

from __future__ import annotations

import pytest

from perception.core.detection_metrics import map50
from perception.nodes.framework.conversions import detection_from_msg
from perception_training.bags.bag_graph import run_graph_on_bag
from perception_training.bags.synthetic import write_synthetic_bag

from e2e_support import PROCESS_MODES, messages_by_stamp, require_model

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
FRAMES = 30


@pytest.fixture(scope="module", params=PROCESS_MODES)
def detector_run(request, tmp_path_factory: pytest.TempPathFactory):
    require_model("detector/yolo11n_synthetic.safetensors")
    root = tmp_path_factory.mktemp(f"detector_e2e_{request.param}")
    bag = write_synthetic_bag(root / "input", FRAMES, fps=10, seed=7, split="test", kind="mixed")
    single = request.param == "single"
    run = run_graph_on_bag(bag, root / "out", ["detector"], ["detections"], rate=0.5, single_process=single)
    return bag, run


def test_every_output_belongs_to_an_input_frame(detector_run) -> None:
    bag, run = detector_run
    frames = messages_by_stamp(bag, "/camera/image_raw")
    outputs = messages_by_stamp(run.recorded, "/perception/detections")
    assert len(outputs) >= FRAMES // 2, f"only {len(outputs)} of {FRAMES} frames were processed"
    for stamp, out in outputs.items():
        assert stamp in frames, f"output stamp {stamp} matches no input frame"
        frame = frames[stamp]
        assert out.header.frame_id == frame.header.frame_id
        assert (out.image_width, out.image_height) == (frame.width, frame.height)


def test_map50_against_ground_truth(detector_run) -> None:
    bag, run = detector_run
    truth = messages_by_stamp(bag, "/ground_truth/detections")
    outputs = messages_by_stamp(run.recorded, "/perception/detections")
    stamps = sorted(outputs)
    predicted = [[detection_from_msg(d) for d in outputs[s].detections] for s in stamps]
    expected = [[detection_from_msg(d) for d in truth[s].detections] for s in stamps]
    assert sum(map(len, expected)) >= 2 * len(stamps), "too few ground-truth objects to score"
    score = map50(predicted, expected)
    detail = f"mAP50 {score.map50:.3f} over {len(stamps)} frames, per class {score.per_class}"
    assert score.map50 >= 0.7, detail
