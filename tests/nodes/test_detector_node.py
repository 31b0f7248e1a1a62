"""Detector node in-process: lifecycle, header copying, bad frames, dropping, parameters.

Most tests inject ``BlobDetector`` through the ``model_factory`` seam: a real (tiny)
detector that boxes whatever differs from the background, so the node's plumbing is tested
against pixels the test drew. The last test runs the committed YOLO artifact.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from diagnostic_msgs.msg import DiagnosticArray
from lifecycle_msgs.msg import State
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter
from sensor_msgs.msg import CompressedImage, Image
from std_srvs.srv import SetBool
from visualization_msgs.msg import Marker, MarkerArray

from perception.core.detections import Detection
from perception.core.domain import UNSCORED, DomainVerdict
from perception.core.images import image_to_numpy, numpy_to_compressed, numpy_to_image
from perception.nodes.detector_node import DetectorNode, DetectorParameters
from perception.nodes.framework import vision_msgs_interop
from perception.nodes.framework.conversions import detection_from_msg
from perception.nodes.framework.model_path import resolve_model_path
from perception_msgs.msg import Detection as DetectionMsg
from perception_msgs.msg import DetectionArray

SUCCESS, FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE
REPO = Path(__file__).resolve().parents[2]
ARTIFACT = REPO / "models" / "detector" / "yolo11n_synthetic.safetensors"


class BlobDetector:
    """Boxes the pixels that differ from the top-left corner's colour (one object per image)."""

    model_id = "blob-detector"
    class_names = ("cup", "knife")
    imgsz = 320

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s

    def detect(
        self, bgr: np.ndarray, conf: float, iou: float, classes: Sequence[str] | None
    ) -> list[Detection]:
        time.sleep(self.delay_s)
        ys, xs = np.nonzero(np.any(bgr != bgr[0, 0], axis=2))
        if xs.size == 0 or (classes is not None and "cup" not in classes):
            return []
        return [
            Detection(
                0, "cup", 1.0, float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)
            )
        ]

    def class_ids(self, names: Sequence[str]) -> list[int]:
        unknown = [n for n in names if n not in self.class_names]
        if unknown:
            raise ValueError(f"unknown class(es) {unknown}; the model knows {list(self.class_names)}")
        return [self.class_names.index(n) for n in names]

    def domain_verdict(self) -> DomainVerdict:
        return UNSCORED


def blob_factory(delay_s: float = 0.0):
    """Like DetectorNode.load_model: resolves model_path (so a missing file fails) then loads."""

    def factory(params: DetectorParameters) -> BlobDetector:
        resolve_model_path(params.model_path)
        return BlobDetector(delay_s)

    return factory


def scene(
    width: int = 640, height: int = 480, box: tuple[int, int, int, int] = (100, 50, 300, 200)
) -> np.ndarray:
    image = np.full((height, width, 3), (30, 60, 90), np.uint8)
    x0, y0, x1, y1 = box
    image[y0:y1, x0:x1] = (200, 220, 240)
    return image


def image_msg(bgr: np.ndarray, sec: int, frame_id: str = "camera", encoding: str = "bgr8") -> Image:
    pixels = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB) if encoding == "rgb8" else bgr
    msg = numpy_to_image(pixels, encoding)
    msg.header.frame_id = frame_id
    msg.header.stamp.sec, msg.header.stamp.nanosec = sec, 500
    return msg


def start(ros, params: dict, factory=None, namespace: str = "", cli: Sequence[str] = ()) -> DetectorNode:
    overrides = [Parameter(k, value=v) for k, v in params.items()]
    node = DetectorNode(
        model_factory=factory or blob_factory(),
        context=ros.context,
        namespace=namespace,
        parameter_overrides=overrides,
        cli_args=["--ros-args", *cli],
    )
    return ros.add(node)


def state_id(node: DetectorNode) -> int:
    return node._state_machine.current_state[0]


def stamps(messages) -> list[int]:
    return [m.header.stamp.sec for m in messages]


def test_detections_markers_debug_image_and_diagnostics(ros, model_file) -> None:
    params = {"model_path": str(model_file), "debug_image": True, "diagnostics_period_s": 0.2}
    node = start(ros, params, namespace="/robot")
    detections = ros.collect(DetectionArray, "/robot/detections")
    markers = ros.collect(MarkerArray, "/robot/markers")
    debug = ros.collect(Image, "/robot/debug_image")
    diagnostics = ros.collect(DiagnosticArray, "/diagnostics")
    assert node.autostart()
    images = ros.publisher(Image, "/robot/image")
    ros.wait_matched(images)
    images.publish(image_msg(scene(), sec=42, frame_id="cam_optical", encoding="rgb8"))

    assert ros.wait_for(lambda: detections and markers and debug)
    result = detections[0]
    assert (result.header.stamp.sec, result.header.stamp.nanosec, result.header.frame_id) == (
        42,
        500,
        "cam_optical",
    )
    assert (result.image_width, result.image_height, result.model_id) == (640, 480, "blob-detector")
    d = result.detections[0]
    assert (d.class_name, d.x_min, d.y_min, d.x_max, d.y_max) == ("cup", 100.0, 50.0, 300.0, 200.0)
    boxes = [m for m in markers[0].markers if m.type == Marker.LINE_STRIP]
    assert len(boxes) == 1 and markers[0].markers[0].action == Marker.DELETEALL
    assert debug[0].header.stamp.sec == 42 and debug[0].encoding == "bgr8"
    annotated = image_to_numpy(debug[0])
    assert annotated.shape == (480, 640, 3) and not np.array_equal(annotated, scene())

    assert ros.wait_for(
        lambda: any(s.hardware_id == "/robot/detector_node" for a in diagnostics for s in a.status)
    )
    status = next(s for a in diagnostics for s in a.status if s.hardware_id == "/robot/detector_node")
    values = {kv.key: kv.value for kv in status.values}
    assert {"received", "processed", "dropped", "failed", "bad_frames", "last_latency_ms", "rate_hz"} <= set(
        values
    )


def bad_frames() -> list[tuple[str, Image]]:
    good = image_msg(scene(320, 240, (8, 8, 24, 24)), sec=1)
    yuv = image_msg(scene(320, 240), sec=1)
    yuv.encoding = "yuv422"
    empty = Image(encoding="bgr8", height=0, width=0, step=0)
    short = image_msg(scene(320, 240), sec=1)
    short.step = 320 * 3 + 4  # claims row padding the data does not have
    truncated = image_msg(scene(320, 240), sec=1)
    truncated.data = bytes(truncated.data)[: len(truncated.data) // 2]
    assert image_to_numpy(good).shape == (240, 320, 3)
    return [("yuv422", yuv), ("empty", empty), ("step", short), ("truncated", truncated)]


def test_bad_frames_are_skipped_and_the_next_good_frame_is_processed(ros, model_file, capfd) -> None:
    node = start(ros, {"model_path": str(model_file)})
    detections = ros.collect(DetectionArray, "detections")
    assert node.autostart()
    images = ros.publisher(Image, "image")
    ros.wait_matched(images)
    for count, (_, bad) in enumerate(bad_frames(), start=1):
        images.publish(bad)
        assert ros.wait_for(lambda count=count: node.counters["bad_frames"] == count)
        images.publish(image_msg(scene(), sec=100 + count))
        assert ros.wait_for(lambda count=count: stamps(detections)[-1:] == [100 + count])
    # yuv422 and the empty frame are refused on arrival; the step and size lies when decoded.
    assert node.counters["processed"] == 4 and node.counters["failed"] == 2
    assert "skipping bad frame" in capfd.readouterr().err


def test_garbage_compressed_frames_are_skipped(ros, model_file) -> None:
    node = start(ros, {"model_path": str(model_file), "compressed_input": True})
    detections = ros.collect(DetectionArray, "detections")
    assert node.autostart()
    images = ros.publisher(CompressedImage, "image/compressed")
    ros.wait_matched(images)
    garbage = CompressedImage(format="jpeg", data=b"definitely not a jpeg")
    images.publish(garbage)
    assert ros.wait_for(lambda: node.counters["bad_frames"] == 1)
    good = numpy_to_compressed(scene(320, 240, (10, 20, 110, 220)), "png")
    good.header.stamp.sec = 7
    images.publish(good)
    assert ros.wait_for(lambda: stamps(detections) == [7])
    d = detections[0].detections[0]
    assert (d.x_min, d.y_min, d.x_max, d.y_max) == (10.0, 20.0, 110.0, 220.0)
    assert (detections[0].image_width, detections[0].image_height) == (320, 240)


def test_flooding_a_slow_model_drops_stale_frames(ros, model_file) -> None:
    params = {"model_path": str(model_file), "image_reliability": "reliable", "image_queue_depth": 50}
    node = start(ros, params, factory=blob_factory(delay_s=0.15))
    detections = ros.collect(DetectionArray, "detections")
    assert node.autostart()
    images = ros.publisher(Image, "image")
    ros.wait_matched(images)
    for sec in range(1, 31):
        images.publish(image_msg(scene(160, 120, (10, 10, 50, 50)), sec=sec))
    assert ros.wait_for(lambda: node.counters["received"] == 30)
    assert node.wait_idle(10.0)
    counters = node.counters
    assert counters["dropped"] > 10, counters
    assert counters["processed"] + counters["dropped"] == 30
    assert ros.wait_for(lambda: len(detections) == counters["processed"])
    assert stamps(detections)[-1] == 30, "the newest frame is always processed"


def test_max_rate_throttles_and_enable_service_pauses(ros, model_file) -> None:
    params = {
        "model_path": str(model_file),
        "max_rate_hz": 2.0,
        "image_reliability": "reliable",
        "image_queue_depth": 10,
    }
    node = start(ros, params)
    assert node.autostart()
    images = ros.publisher(Image, "image")
    ros.wait_matched(images)
    for sec in range(5):
        images.publish(image_msg(scene(320, 240, (1, 1, 5, 5)), sec=sec))
    assert ros.wait_for(lambda: node.counters["received"] + node.counters["throttled"] == 5)
    assert node.counters["received"] == 1 and node.counters["throttled"] == 4

    client = ros.io.create_client(SetBool, "detector_node/enable")
    assert client.wait_for_service(timeout_sec=5.0)
    future = client.call_async(SetBool.Request(data=False))
    assert ros.wait_for(future.done) and future.result().success
    images.publish(image_msg(scene(64, 48, (1, 1, 5, 5)), sec=9))
    assert ros.wait_for(lambda: node.counters["disabled"] == 1)
    assert node.counters["received"] == 1


def test_live_parameters_apply_and_configure_time_ones_are_refused(ros, model_file) -> None:
    node = start(ros, {"model_path": str(model_file)})
    assert node.autostart()
    ok = node.set_parameters([Parameter("confidence", value=0.9), Parameter("classes", value=["knife"])])
    assert all(r.successful for r in ok)
    assert (node.params.confidence, node.params.classes) == (0.9, ("knife",))
    unknown = node.set_parameters([Parameter("classes", value=["unicorn"])])[0]
    assert not unknown.successful and "unknown class(es) ['unicorn']" in unknown.reason
    refused = node.set_parameters([Parameter("model_path", value="other.safetensors")])[0]
    assert not refused.successful and "applied at configure" in refused.reason
    assert node.params.classes == ("knife",)


def test_autostart_is_read_at_construction_and_read_only(ros, model_file) -> None:
    node = start(ros, {"model_path": str(model_file), "autostart": False})
    assert node.startup.autostart is False
    assert not node.set_parameters([Parameter("autostart", value=True)])[0].successful
    assert state_id(node) == State.PRIMARY_STATE_UNCONFIGURED


def test_invalid_params_file_fails_configure_naming_the_parameter(ros, tmp_path, model_file, capfd) -> None:
    params_file = tmp_path / "detector.yaml"
    values = {"model_path": str(model_file), "image_reliability": "sometimes"}
    params_file.write_text(yaml.safe_dump({"/**": {"ros__parameters": values}}))
    node = start(ros, {}, cli=["--params-file", str(params_file)])
    assert node.trigger_configure() == FAILURE
    assert "'image_reliability' = 'sometimes' is not allowed; use one of 'best_effort', 'reliable'" in (
        capfd.readouterr().err
    )
    assert node.set_parameters([Parameter("image_reliability", value="reliable")])[0].successful
    assert node.trigger_configure() == SUCCESS


@pytest.fixture(params=[".safetensors", ".onnx"])
def detector_artifact(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, float]:
    """The committed artifact or its ONNX export (ONNX Runtime), or (where it is missing) an
    untrained yolo11n at 160 px, exported for the ONNX case.

    Returns the path and a confidence threshold that yields boxes from it.
    """
    if ARTIFACT.is_file():
        return ARTIFACT.with_suffix(request.param), 0.25
    from perception.core.detector import build_model

    pytest.importorskip("perception_training", reason="needs the training package (synthetic world)")
    from perception_training.detector.artifact import save_detector
    from perception_training.onnx_export.cli import export_onnx
    from perception_training.synthetic.scene import DETECTOR_CLASSES

    path = tmp_path / "untrained.safetensors"
    save_detector(
        path, build_model("yolo11n", DETECTOR_CLASSES), {"architecture": "yolo11n", "input_size": 160}
    )
    return (export_onnx(path)[0] if request.param == ".onnx" else path), 0.0


def test_real_model_boxes_are_in_source_pixels_for_any_frame_size(ros, detector_artifact) -> None:
    pytest.importorskip("perception_training", reason="needs the training package (synthetic world)")
    from perception_training.synthetic.world import SceneWorld

    path, confidence = detector_artifact
    overrides = {"model_path": str(path), "device": "cpu", "confidence": confidence}
    node = ros.add(
        DetectorNode(
            context=ros.context, parameter_overrides=[Parameter(k, value=v) for k, v in overrides.items()]
        )
    )
    detections = ros.collect(DetectionArray, "detections")
    assert node.autostart()
    reference = node.model  # the same weights, called directly, while the worker is idle
    images = ros.publisher(Image, "image")
    ros.wait_matched(images)
    world = SceneWorld(seed=7)
    for sec, size in enumerate([(640, 480), (1280, 720), (300, 500)], start=1):
        scene = world.scene(sec, "test", "mixed", size=size, exclude=["knife"])  # knife AP50 is lowest
        frame = scene.image
        images.publish(image_msg(frame, sec=sec))
        assert ros.wait_for(lambda sec=sec: stamps(detections)[-1:] == [sec], timeout=30.0)
        result = detections[-1]
        assert (result.image_width, result.image_height) == size
        assert result.model_id == reference.model_id
        expected = reference.detect(frame, confidence, 0.45)
        assert expected, "the reference run must produce boxes for the comparison to mean anything"
        assert [d.class_name for d in result.detections] == [e.class_name for e in expected]
        got = [(d.x_min, d.y_min, d.x_max, d.y_max) for d in result.detections]
        np.testing.assert_allclose(got, [e.xyxy for e in expected], atol=0.5)
        boxes = np.array(got)
        assert boxes[:, [0, 2]].max() <= size[0] and boxes[:, [1, 3]].max() <= size[1]
        assert boxes.min() >= 0
        assert boxes[:, 2].max() > 0.5 * size[0] or boxes[:, 3].max() > 0.5 * size[1], "boxes span the frame"
        if path.with_suffix(".safetensors") == ARTIFACT:  # trained: boxes land on the objects in the frame
            found = [_best_iou(obj.class_name, obj.box, result.detections) >= 0.5 for obj in scene.objects]
            assert sum(found) >= 0.6 * len(found), (
                f"{size}: {found} of {[o.class_name for o in scene.objects]}"
            )


def _best_iou(class_name: str, box: tuple[float, ...], detections: Sequence[DetectionMsg]) -> float:
    truth = Detection(0, class_name, 1.0, *box)
    ious = [truth.iou(detection_from_msg(d)) for d in detections if d.class_name == class_name]
    return max(ious, default=0.0)


@pytest.mark.skipif(
    not vision_msgs_interop.available(), reason="vision_msgs is not installed (../shared/ros-tools)"
)
def test_vision_msgs_detections_agree_box_for_box(ros, model_file) -> None:
    from vision_msgs.msg import Detection2DArray

    node = start(ros, {"model_path": str(model_file)}, namespace="/v")
    ours = ros.collect(DetectionArray, "/v/detections")
    theirs = ros.collect(Detection2DArray, "/v/detections_2d")
    assert node.autostart()
    images = ros.publisher(Image, "/v/image")
    ros.wait_matched(images)
    images.publish(image_msg(scene(640, 480, (100, 50, 300, 200)), sec=3))
    assert ros.wait_for(lambda: ours and theirs)
    (array,), (vision,) = ours, theirs
    assert vision.header == array.header and len(vision.detections) == len(array.detections) >= 1
    for d, v in zip(array.detections, vision.detections, strict=True):
        (hypothesis,) = v.results
        assert (hypothesis.hypothesis.class_id, hypothesis.hypothesis.score) == (
            d.class_name,
            pytest.approx(d.score),
        )
        box = v.bbox
        assert box.center.position.x - box.size_x / 2 == pytest.approx(d.x_min)
        assert box.center.position.x + box.size_x / 2 == pytest.approx(d.x_max)
        assert box.center.position.y - box.size_y / 2 == pytest.approx(d.y_min)
        assert box.center.position.y + box.size_y / 2 == pytest.approx(d.y_max)

    quiet = start(ros, {"model_path": str(model_file), "vision_msgs_output": False}, namespace="/q")
    assert quiet.autostart()
    assert not ros.io.get_publishers_info_by_topic("/q/detections_2d")
