"""The real-data path: fine-tune the shipped detector on real photos in COCO format, load it as nodes do."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest
from test_coco_reader import real_photo_set

from perception.core.artifacts import read_metadata
from perception.core.detector import Detector
from perception_training import cli
from perception_training.detector.train import starting_weights

SHIPPED = Path(__file__).resolve().parents[2] / "models" / "detector" / "yolo11n_synthetic.safetensors"
CLASSES = [
    "person",
    "motorcycle",
    "bus",
    "cat",
    "tie",
    "bottle",
    "cup",
    "spoon",
]  # the fixture's, in id order


def test_starting_weights_take_a_pt_as_it_is_and_refuse_other_files(tmp_path: Path) -> None:
    assert starting_weights(None, tmp_path) is None
    user_pt = tmp_path / "mine.pt"
    user_pt.write_bytes(b"checkpoint")
    assert starting_weights(user_pt, tmp_path) == user_pt
    (tmp_path / "mine.onnx").write_bytes(b"")
    with pytest.raises(
        ValueError, match=r"use our detector artifact \(\.safetensors\) or an ultralytics \.pt"
    ):
        starting_weights(tmp_path / "mine.onnx", tmp_path)
    with pytest.raises(FileNotFoundError, match=r"absent\.pt: no such file"):
        starting_weights(tmp_path / "absent.pt", tmp_path)


@pytest.mark.slow
def test_fine_tune_the_shipped_artifact_on_a_coco_json_and_detect(tmp_path: Path) -> None:
    if not SHIPPED.is_file():
        pytest.skip(f"{SHIPPED} is not in this checkout")
    instances = real_photo_set(tmp_path / "photos")
    artifact = tmp_path / "real.safetensors"
    argv = [
        "detector",
        *("--data", str(instances), "--init-from", str(SHIPPED)),
        *("--imgsz", "128", "--epochs", "1", "--batch", "2", "--workers", "0", "--mosaic", "0"),
        *("--out", str(artifact), "--work-dir", str(tmp_path / "work"), "--docs-images", ""),
    ]
    assert cli.main(argv) == 0

    meta = read_metadata(artifact)
    assert meta["kind"] == "detector" and meta["architecture"] == "yolo11n"
    assert meta["classes"] == CLASSES
    assert meta["dataset"]["format"] == "coco" and meta["dataset"]["source"] == str(instances)
    assert meta["dataset"]["images"] == {"test": 1, "val": 1, "train": 7}
    assert meta["dataset"]["skipped"] == {}
    # ultralytics found the labels beside the linked images: the test split has classes to score
    assert meta["metrics"]["ap50"] and set(meta["metrics"]["ap50"]) <= set(CLASSES)
    assert meta["source_weights"] == str(SHIPPED)
    assert "domain" not in meta  # a user's data cannot be redrawn: no domain statistics, never suppressed

    detector = Detector.load(artifact, device="cpu")  # as detector_node loads model_path
    assert detector.class_names == CLASSES and detector.imgsz == 128
    photo = cv2.imread(str(tmp_path / "photos" / "zidane.jpg"))
    detections = detector.detect(photo, conf=0.001)
    assert all(d.class_name in CLASSES for d in detections)
    bad = [
        d
        for d in detections
        if not (0 <= d.x_min < d.x_max <= photo.shape[1] and 0 <= d.y_min < d.y_max <= photo.shape[0])
    ]
    assert not bad, f"boxes outside {photo.shape[1]}x{photo.shape[0]} or empty: {bad}"
