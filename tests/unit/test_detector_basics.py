"""Detection helpers, mAP50 helper, device rules and the offline ultralytics environment."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from perception.core import ultralytics_env
from perception.core.detection_metrics import map50
from perception.core.detections import Detection, detections_from_boxes
from perception.core.devices import DeviceError, half_supported, resolve_device
from perception_training.detector.benchmark import precision_recall
from perception_training.ood.sources import jpeg_round_trip


def det(
    name: str, box: tuple[float, float, float, float], score: float = 1.0, class_id: int = 0
) -> Detection:
    return Detection(class_id, name, score, *box)


def test_detection_geometry():
    a = det("cup", (0, 0, 10, 10))
    b = det("cup", (5, 0, 15, 10))
    assert a.area == 100
    assert a.iou(b) == pytest.approx(50 / 150)
    assert a.iou(det("cup", (20, 20, 30, 30))) == 0.0
    assert a.scaled(2.0, 0.5).xyxy == (0, 0, 20, 5)
    assert det("cup", (-5, 3, 50, 60)).clipped(40, 30).xyxy == (0, 3, 40, 30)
    assert a.center == (5, 5)


def test_map50_perfect_missed_and_shifted():
    truth = [[det("cup", (0, 0, 10, 10)), det("knife", (20, 20, 40, 30))], [det("cup", (50, 50, 80, 90))]]
    assert map50(truth, truth).map50 == pytest.approx(1.0)

    missed_knife = [[det("cup", (0, 0, 10, 10), 0.9)], [det("cup", (50, 50, 80, 90), 0.8)]]
    score = map50(missed_knife, truth)
    assert score.per_class == pytest.approx({"cup": 1.0, "knife": 0.0})
    assert score.map50 == pytest.approx(0.5)

    # IoU of (0,0,10,10) with (4,0,14,10) is 6/14 < 0.5: a miss plus a false positive.
    shifted = [[det("cup", (4, 0, 14, 10), 0.9), det("knife", (20, 20, 40, 30), 0.9)], []]
    assert map50(shifted, [truth[0], []]).per_class == pytest.approx({"cup": 0.0, "knife": 1.0})


def test_map50_matches_by_name_not_id():
    truth = [[Detection(0, "cup", 1.0, 0, 0, 10, 10)]]
    coco_ids = [[Detection(41, "cup", 0.7, 0, 0, 10, 10)]]
    assert map50(coco_ids, truth).map50 == pytest.approx(1.0)


def test_map50_ranks_by_score():
    truth = [[det("cup", (0, 0, 10, 10))]]
    confident_wrong = [[det("cup", (100, 100, 110, 110), 0.9), det("cup", (0, 0, 10, 10), 0.1)]]
    confident_right = [[det("cup", (100, 100, 110, 110), 0.1), det("cup", (0, 0, 10, 10), 0.9)]]
    assert map50(confident_right, truth).map50 == pytest.approx(1.0)
    assert map50(confident_wrong, truth).map50 < 0.6


def test_map50_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="one prediction list per ground-truth image"):
        map50([[]], [[], []])


def test_resolve_device():
    mps = torch.backends.mps.is_available()
    assert resolve_device("auto") == ("cuda:0" if torch.cuda.is_available() else "mps" if mps else "cpu")
    assert resolve_device("CPU") == "cpu"
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    with pytest.raises(DeviceError, match=f"has {count} usable CUDA"):
        resolve_device(f"cuda:{count}")
    with pytest.raises(DeviceError, match="unknown device"):
        resolve_device("gpu0")
    assert half_supported("cuda:0") and not half_supported("cpu")


def test_ultralytics_env_defaults_and_font(tmp_path, monkeypatch):
    monkeypatch.delenv("YOLO_CONFIG_DIR", raising=False)
    monkeypatch.delenv("YOLO_OFFLINE", raising=False)
    monkeypatch.setenv("PERCEPTION_ROOT", str(tmp_path))
    settings = ultralytics_env.configure()
    assert settings == tmp_path / ".cache" / "ultralytics" / "Ultralytics"
    font = settings / "Arial.ttf"
    assert font.read_bytes()[:4] == b"\x00\x01\x00\x00"  # a TrueType font
    assert ultralytics_env.configure() == settings  # idempotent
    assert os.environ["YOLO_OFFLINE"] == "1"


def test_ultralytics_env_respects_user_override(tmp_path, monkeypatch):
    monkeypatch.setenv("YOLO_CONFIG_DIR", str(tmp_path / "mine"))
    monkeypatch.setenv("YOLO_OFFLINE", "0")
    assert ultralytics_env.configure() == tmp_path / "mine" / "Ultralytics"
    assert (tmp_path / "mine" / "Ultralytics" / "Arial.ttf").is_file()
    assert os.environ["YOLO_OFFLINE"] == "0"


def test_precision_recall_at_a_score_counts_each_truth_once() -> None:
    truth = [[det("knife", (0, 0, 10, 10)), det("knife", (50, 50, 60, 60)), det("cup", (20, 20, 40, 40))]]
    predicted = [
        [
            det("knife", (0, 0, 10, 10), 0.9),
            det("knife", (1, 0, 11, 10), 0.8),  # the same knife again: a false positive
            det("knife", (50, 50, 60, 60), 0.1),  # right, but below the score a node publishes
            det("cup", (20, 20, 40, 40), 0.7),
            det("bottle", (80, 80, 90, 90), 0.5),
        ]
    ]
    scores = precision_recall(predicted, truth, min_score=0.25)
    assert scores["knife"] == {"precision": 0.5, "recall": 0.5}
    assert scores["cup"] == {"precision": 1.0, "recall": 1.0}
    assert scores["bottle"] == {"precision": 0.0, "recall": 1.0}
    assert precision_recall(predicted, truth, min_score=0.05)["knife"] == {"precision": 0.6667, "recall": 1.0}


def test_jpeg_round_trip_keeps_the_frame_close() -> None:
    frame = np.full((48, 64, 3), 128, np.uint8)
    frame[10:30, 10:30] = (20, 200, 90)
    out = jpeg_round_trip(frame, 75)
    assert out.shape == frame.shape and out.dtype == np.uint8
    assert 0 < np.abs(out.astype(int) - frame).mean() < 6


def test_boxes_without_area_are_dropped() -> None:
    """A box clipped to the frame's edge can collapse to a line; no consumer gets one."""
    boxes = [(10.0, 20.0, 50.0, 60.0), (364.6, 720.0, 877.3, 720.0), (5.0, 5.0, 5.0, 9.0)]
    kept = detections_from_boxes(boxes, [0.9, 0.5, 0.4], [0, 1, 0], {0: "person", 1: "cup"})
    assert kept == [Detection(0, "person", 0.9, 10.0, 20.0, 50.0, 60.0)]
