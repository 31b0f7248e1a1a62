"""Framework helpers without a running graph: conversions, markers, drawing, QoS, diagnostics."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticStatus
from rclpy.qos import ReliabilityPolicy
from sensor_msgs.msg import CompressedImage
from std_msgs.msg import Header
from visualization_msgs.msg import Marker

from perception.core.constants import MODELS_DIR_ENV
from perception.core.detections import Detection
from perception.core.images import ImageConversionError, numpy_to_image
from perception.nodes.framework.conversions import (
    class_color,
    copy_header,
    detection_array_msg,
    detection_from_msg,
    detection_markers,
    detection_to_msg,
    draw_detections,
)
from perception.nodes.framework.diagnostics import PeriodSummary, build_status
from perception.nodes.framework.image_node import decode_image
from perception.nodes.framework.latest_frame import WorkerCounters
from perception.nodes.framework.model_path import resolve_model_path
from perception.nodes.framework.qos import image_qos, output_qos
from perception.nodes.framework.stamp_cache import StampCache, stamp_key

CUP = Detection(3, "cup", 0.875, 10.5, 20.25, 110.0, 220.0, track_id=7)
KNIFE = Detection(5, "knife", 0.5, 200.0, 40.0, 260.0, 90.0)


def header(sec: int = 12, nanosec: int = 345, frame_id: str = "camera_optical") -> Header:
    h = Header(frame_id=frame_id)
    h.stamp.sec, h.stamp.nanosec = sec, nanosec
    return h


def test_detection_round_trips_through_the_message() -> None:
    assert detection_from_msg(detection_to_msg(CUP)) == CUP


def test_detection_array_copies_header_without_aliasing() -> None:
    source = header()
    msg = detection_array_msg(source, [CUP, KNIFE], 640, 480, "yolo@abc")
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec, msg.header.frame_id) == (
        12,
        345,
        "camera_optical",
    )
    assert msg.header is not source and copy_header(source) is not source
    assert (msg.image_width, msg.image_height, msg.model_id) == (640, 480, "yolo@abc")
    assert [d.class_name for d in msg.detections] == ["cup", "knife"]


def test_markers_are_boxes_and_labels_in_pixels_after_a_delete_all() -> None:
    markers = detection_markers(header(), [CUP, KNIFE], lifetime_s=1.25).markers
    assert markers[0].action == Marker.DELETEALL
    boxes = [m for m in markers if m.type == Marker.LINE_STRIP]
    labels = [m for m in markers if m.type == Marker.TEXT_VIEW_FACING]
    assert len(boxes) == len(labels) == 2
    assert len({(m.ns, m.id) for m in markers[1:]}) == 4, "marker ids must be unique within the namespace"
    corners = {(p.x, p.y) for p in boxes[0].points}
    assert corners == {(10.5, 20.25), (110.0, 20.25), (110.0, 220.0), (10.5, 220.0)}
    assert boxes[0].points[0] == boxes[0].points[-1], "the strip must close the box"
    assert labels[0].text == "cup #7 0.88" and labels[1].text == "knife 0.50"
    assert all((m.lifetime.sec, m.lifetime.nanosec) == (1, 250_000_000) for m in markers[1:])
    assert all(m.header.frame_id == "camera_optical" for m in markers)


def test_draw_detections_marks_box_edges_and_leaves_input_untouched() -> None:
    image = np.full((240, 320, 3), 40, np.uint8)
    image.flags.writeable = False
    annotated = draw_detections(image, [CUP])
    assert annotated.shape == image.shape and np.all(image == 40)
    color = class_color(CUP.class_id)
    assert tuple(annotated[150, 10]) == color, "left edge of the box"
    assert tuple(annotated[150, 60]) == (40, 40, 40), "inside the box stays as it was"


def test_class_colors_are_stable_and_distinct() -> None:
    colors = [class_color(i) for i in range(10)]
    assert colors == [class_color(i) for i in range(10)]
    assert len(set(colors)) == 10


def test_image_qos_defaults_to_best_effort_and_can_be_reliable() -> None:
    assert image_qos().reliability == ReliabilityPolicy.BEST_EFFORT
    assert image_qos().depth == 1
    reliable = image_qos("reliable", 5)
    assert (reliable.reliability, reliable.depth) == (ReliabilityPolicy.RELIABLE, 5)
    assert output_qos().reliability == ReliabilityPolicy.RELIABLE
    with pytest.raises(ValueError, match="'sometimes' is not one of"):
        image_qos("sometimes")


def summary(new_received: int, new_failed: int) -> PeriodSummary:
    counters = WorkerCounters(received=100, processed=60, dropped=38, failed=2, last_latency_s=0.0425)
    return PeriodSummary(counters, {"bad_frames": 1}, 9.5, new_received, new_failed)


def test_diagnostic_status_carries_every_counter() -> None:
    status = build_status("/ns/detector_node: frames", "/ns/detector_node", summary(20, 0))
    values = {kv.key: kv.value for kv in status.values}
    assert values == {
        "received": "100",
        "processed": "60",
        "dropped": "38",
        "failed": "2",
        "discarded": "0",
        "bad_frames": "1",
        "last_latency_ms": "42.5",
        "rate_hz": "9.50",
    }
    assert (status.level, status.hardware_id) == (DiagnosticStatus.OK, "/ns/detector_node")


@pytest.mark.parametrize(
    ("received", "failed", "text"), [(20, 2, "2 frame(s) failed"), (0, 0, "no images accepted")]
)
def test_diagnostic_status_warns_on_failures_and_silence(received: int, failed: int, text: str) -> None:
    status = build_status("n", "n", summary(received, failed))
    assert status.level == DiagnosticStatus.WARN
    assert text in status.message


def test_stamp_cache_pairs_by_stamp_and_evicts_oldest() -> None:
    cache: StampCache[str] = StampCache(capacity=2)
    for sec in (1, 2, 3):
        cache.put(stamp_key(header(sec=sec)), f"image{sec}")
    assert cache.evicted == 1 and len(cache) == 2
    assert cache.pop(stamp_key(header(sec=1))) is None
    assert cache.pop(stamp_key(header(sec=3))) == "image3"
    assert cache.pop(stamp_key(header(sec=3))) is None


def test_model_path_resolves_relative_to_the_models_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "detector").mkdir()
    model = tmp_path / "detector" / "m.safetensors"
    model.write_bytes(b"x")
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path))
    assert resolve_model_path("detector/m.safetensors") == model
    assert resolve_model_path(str(model)) == model
    with pytest.raises(FileNotFoundError, match=r"detector/other.safetensors does not exist"):
        resolve_model_path("detector/other.safetensors")
    monkeypatch.delenv(MODELS_DIR_ENV)
    with pytest.raises(FileNotFoundError, match=r"relative but \$PERCEPTION_MODELS_DIR is not set"):
        resolve_model_path("detector/m.safetensors")


@pytest.mark.parametrize(
    ("pixels", "encoding"),
    [
        (np.full((6, 8), 200, np.uint8), "mono8"),
        (np.full((6, 8), 60000, np.uint16), "mono16"),
        (np.dstack([np.full((6, 8), v, np.uint8) for v in (10, 20, 30)]), "bgr8"),
        (np.dstack([np.full((6, 8), v, np.uint8) for v in (10, 20, 30, 255)]), "bgra8"),
    ],
)
def test_decode_compressed_png_of_any_layout_gives_bgr8(pixels: np.ndarray, encoding: str) -> None:
    ok, png = cv2.imencode(".png", pixels)
    assert ok
    msg = CompressedImage(format="png", data=png.tobytes())
    msg.header.stamp.sec = 3
    frame = decode_image(msg)
    assert frame.encoding == encoding and frame.header.stamp.sec == 3
    assert frame.bgr.shape == (6, 8, 3) and frame.bgr.dtype == np.uint8
    assert (frame.width, frame.height) == (8, 6)
    expected = {"mono8": (200,) * 3, "mono16": (233,) * 3, "bgr8": (10, 20, 30), "bgra8": (10, 20, 30)}
    assert tuple(frame.bgr[0, 0]) == expected[encoding]


def test_decode_raw_rgb_swaps_to_bgr_and_rejects_unknown_encodings() -> None:
    rgb = np.zeros((4, 5, 3), np.uint8)
    rgb[..., 0] = 255
    frame = decode_image(numpy_to_image(rgb, "rgb8"))
    assert tuple(frame.bgr[0, 0]) == (0, 0, 255)
    yuv = numpy_to_image(rgb, "rgb8")
    yuv.encoding = "yuv422"
    with pytest.raises(ImageConversionError, match="yuv422"):
        decode_image(yuv)
