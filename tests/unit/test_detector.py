"""Detector: loading our artifact, .pt and .onnx, box coordinates, filters and errors.

Box-coordinate and agreement tests need a detector that actually finds the synthetic world's
objects, so they use the committed demo artifact (models/detector); loading and error tests
use an untrained artifact made here.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from perception.core.artifacts import ArtifactError, save_artifact
from perception.core.detection_metrics import map50
from perception.core.detections import Detection
from perception.core.detector import Detector, DetectorError, build_model
from perception_training.detector import export as export_cli
from perception_training.detector.artifact import save_detector
from perception_training.synthetic import DETECTOR_CLASSES, SceneWorld

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_ARTIFACT = REPO_ROOT / "models" / "detector" / "yolo11n_synthetic.safetensors"
SCENES = range(6)


@pytest.fixture(scope="module")
def untrained_artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("untrained") / "untrained.safetensors"
    model = build_model("yolo11n", DETECTOR_CLASSES)
    return save_detector(path, model, {"architecture": "yolo11n", "input_size": 160})


@pytest.fixture(scope="module")
def untrained(untrained_artifact: Path) -> Detector:
    return Detector.load(untrained_artifact, device="cpu")


@pytest.fixture(scope="module")
def demo() -> Detector:
    assert DEMO_ARTIFACT.is_file(), f"{DEMO_ARTIFACT} missing: run `perception-train detector`"
    return Detector.load(DEMO_ARTIFACT, device="cpu")


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Through the export CLI, which wraps perception_training.detector.export.export_detector."""
    out = tmp_path_factory.mktemp("exported")
    assert export_cli.main([str(DEMO_ARTIFACT), "--out", str(out)]) == 0
    return {fmt: out / f"{DEMO_ARTIFACT.stem}.{fmt}" for fmt in ("pt", "onnx")}


def truth(scene) -> list[Detection]:
    return [Detection(o.class_id, o.class_name, 1.0, *o.box) for o in scene.objects]


def test_loads_our_artifact(untrained_artifact: Path):
    detector = Detector.load(untrained_artifact, device="cpu", half=True)
    assert detector.class_names == list(DETECTOR_CLASSES)
    assert detector.imgsz == 160
    assert detector.model_id.startswith("untrained.safetensors@")
    assert Detector.load(untrained_artifact, device="cpu", imgsz=224).imgsz == 224


def test_class_filter(demo: Detector):
    image = SceneWorld(0).scene(0, "test", include=["cup", "knife", "bottle"]).image
    everything = demo.detect(image)
    assert {"cup", "knife", "bottle"} <= {d.class_name for d in everything}
    cups = demo.detect(image, classes=["cup"])
    assert cups == [d for d in everything if d.class_name == "cup"]
    with pytest.raises(DetectorError, match=r"unknown class\(es\) \['dog'\].*'knife'"):
        demo.detect(image, classes=["cup", "dog"])


@pytest.mark.parametrize(
    ("image", "problem"),
    [
        (np.zeros((48, 64), np.uint8), r"shape \(48, 64\)"),
        (np.zeros((48, 64, 3), np.float32), "dtype float32"),
        (np.zeros((48, 64, 4), np.uint8), r"HxWx3 uint8 BGR"),
        (np.zeros((0, 64, 3), np.uint8), "empty 64x0 frame"),
    ],
)
def test_bad_images_raise(untrained: Detector, image: np.ndarray, problem: str):
    with pytest.raises(DetectorError, match=problem):
        untrained.detect(image)


def test_missing_and_unsupported_files(tmp_path: Path):
    with pytest.raises(DetectorError, match="does not exist; train one with `perception-train detector`"):
        Detector.load(tmp_path / "nope.safetensors")
    (tmp_path / "model.tflite").write_bytes(b"x")
    with pytest.raises(DetectorError, match=r"unsupported detector file type '\.tflite'"):
        Detector.load(tmp_path / "model.tflite")


def test_corrupt_files(tmp_path: Path, untrained_artifact: Path):
    garbage = b"\x00not a model" * 100
    for name in ("garbage.safetensors", "garbage.onnx", "garbage.pt"):
        (tmp_path / name).write_bytes(garbage)
    with pytest.raises(ArtifactError, match="not a readable safetensors artifact"):
        Detector.load(tmp_path / "garbage.safetensors")
    with pytest.raises(DetectorError, match=r"garbage\.onnx is not a loadable ONNX model .*corrupt"):
        Detector.load(tmp_path / "garbage.onnx")
    with pytest.raises(DetectorError, match=r"garbage\.pt is not a loadable ultralytics model"):
        Detector.load(tmp_path / "garbage.pt")
    truncated = tmp_path / "truncated.safetensors"
    data = untrained_artifact.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ArtifactError, match=r"truncated\.safetensors is not a readable safetensors artifact"):
        Detector.load(truncated)


def test_wrong_kind_and_wrong_weights(tmp_path: Path):
    model = build_model("yolo11n", ["a", "b"])
    classifier = save_artifact(
        tmp_path / "glass.safetensors", model.state_dict(), {"kind": "classifier", "architecture": "x"}
    )
    with pytest.raises(ArtifactError, match="holds a 'classifier' model, expected 'detector'"):
        Detector.load(classifier)
    mismatched = save_artifact(
        tmp_path / "mismatch.safetensors",
        model.state_dict(),
        {"kind": "detector", "architecture": "yolo11n", "classes": ["a", "b", "c"], "input_size": 160},
    )
    with pytest.raises(DetectorError, match="weights do not fit architecture 'yolo11n' with 3 classes"):
        Detector.load(mismatched)


@pytest.mark.parametrize("size", [(640, 480), (1280, 720), (300, 500)])
def test_boxes_are_in_source_pixels(demo: Detector, size: tuple[int, int]):
    """Scenes rendered at each size: boxes must land on the objects in that image's pixels."""
    world = SceneWorld(7)
    scenes = [world.scene(i, "test", size=size) for i in SCENES]
    assert scenes[0].image.shape[:2] == (size[1], size[0])
    predictions = [demo.detect(scene.image) for scene in scenes]
    assert all(
        0 <= d.x_min < d.x_max <= size[0] and 0 <= d.y_min < d.y_max <= size[1]
        for p in predictions
        for d in p
    )
    assert map50(predictions, [truth(s) for s in scenes], DETECTOR_CLASSES).map50 >= 0.6


@pytest.mark.parametrize("size", [(1280, 960), (1280, 720), (400, 300)])
def test_detections_follow_a_resized_frame(demo: Detector, size: tuple[int, int]):
    """The same frame resized: each confident box reappears, scaled, on the resized frame.

    Matching ignores the class: squeezing a frame can turn a mug into something bottle-shaped,
    but the box must still sit on the object. (300x500 is covered by scenes rendered at that
    size above: squeezing a 640x480 frame into it leaves people too thin to detect.)
    """
    scene = SceneWorld(3).scene(0, "test", include=["person", "bottle", "cup"])
    base = [d for d in demo.detect(scene.image) if d.score > 0.5]
    assert len(base) >= 3
    resized = demo.detect(cv2.resize(scene.image, size, interpolation=cv2.INTER_AREA), conf=0.1)
    sx, sy = size[0] / scene.image.shape[1], size[1] / scene.image.shape[0]
    for expected in (d.scaled(sx, sy) for d in base):
        best = max((d.iou(expected) for d in resized), default=0.0)
        assert best > 0.6, f"{expected} not found after resizing to {size}"


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["pt", "onnx"])
def test_exported_formats_agree(demo: Detector, exported: dict[str, Path], fmt: str):
    other = Detector.load(exported[fmt], device="cpu")
    assert other.class_names == demo.class_names
    assert other.imgsz == demo.imgsz
    for index in range(3):
        image = SceneWorld(5).scene(index, "test").image
        reference = [d for d in demo.detect(image) if d.score > 0.5]
        theirs = other.detect(image, conf=0.2)
        for expected in reference:
            best = max((d.iou(expected) for d in theirs if d.class_name == expected.class_name), default=0.0)
            assert best > 0.8, f"{fmt} misses {expected}"
