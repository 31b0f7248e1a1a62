"""Glass node: camera image + detector's DetectionArray -> perception_msgs/GlassClassificationArray.

Thin adapter over ``perception.core.glass.GlassClassifier`` (its classifier on torch, or on ONNX
Runtime without torch for an ``.onnx`` model_path) on the shared TorchModelNode base.
The detector's boxes of the configured classes (default ``cup`` and ``wine glass``) are cropped
from the *same* frame (image and detections paired by header stamp in bounded caches), classified
in one batch, and published with the glass type, its score and the fragile flag.
Inputs: ``image`` (sensor_msgs/Image) or ``image/compressed``, and ``detections``
(perception_msgs/DetectionArray). Outputs: ``glasses`` (GlassClassificationArray, header copied
from the image), ``glass_markers`` (MarkerArray in image pixels), ``glass_debug_image`` (bgr8,
when enabled). A half whose partner never arrives (an image the detector skipped, detections
whose image was dropped) is evicted from its cache and counted on /diagnostics, not an error.
The image cache is bounded in frames and in bytes (``pair_cache_mb``). Boxes with a NaN or
infinite coordinate or score are skipped one by one (counted, the first reason logged), and
at most ``max_boxes`` (the highest scores) are classified per frame.
Run: ``ros2 run perception glass_node --ros-args --params-file config/jetson.yaml``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from diagnostic_msgs.msg import DiagnosticStatus

from perception.core.constants import MODELS_DIR_ENV
from perception.core.detections import Detection
from perception.core.domain_verdict import DomainVerdict, worst
from perception.core.glass import DEFAULT_DETECTOR_CLASSES, GlassClassifier, GlassResult, load_classifier
from perception.nodes.framework.box_overlay import BoxOverlay, BoxOverlayParameters
from perception.nodes.framework.conversions import (
    checked_detections,
    copy_header,
    detection_to_msg,
)
from perception.nodes.framework.diagnostics import PeriodSummary, Status
from perception.nodes.framework.domain_watch import DomainAwareNode, DomainParameters, mark_domain
from perception.nodes.framework.image_node import LOG_THROTTLE_S, Frame, SharedImage
from perception.nodes.framework.model_path import resolve_model_path
from perception.nodes.framework.onnx_backend import OnnxParameters, session_options
from perception.nodes.framework.parameters import param
from perception.nodes.framework.qos import output_qos
from perception.nodes.framework.runner import run_node
from perception.nodes.framework.stamp_cache import StampCache, stamp_key
from perception.nodes.framework.torch_node import TorchNodeParameters
from perception.nodes.topics import DETECTIONS, GLASS_DEBUG_IMAGE, GLASS_MARKERS, GLASSES
from perception_msgs.msg import DetectionArray, GlassClassification, GlassClassificationArray

NODE_NAME = "glass_node"
MARKER_NAMESPACE = "glasses"


@dataclass(frozen=True)
class GlassParameters(TorchNodeParameters, BoxOverlayParameters, DomainParameters, OnnxParameters):
    """Everything the glass node reads; see config/*.yaml for the deployed values."""

    model_path: str = param(
        "glass/mobilenet_v2_glass.safetensors",
        "glass-type classifier artifact (.safetensors, on torch) or its export (.onnx, on ONNX Runtime, "
        f"without torch), absolute or relative to ${MODELS_DIR_ENV}",
    )
    classes: tuple[str, ...] = param(
        DEFAULT_DETECTOR_CLASSES, "detector classes whose boxes are classified (at least one)", live=True
    )
    padding: float = param(
        0.025,
        "context added around each box, as a fraction of its size per side (see docs/glass.md)",
        min_value=0.0,
        max_value=1.0,
        live=True,
    )
    batch_size: int = param(32, "most crops per forward pass", min_value=1, max_value=1024)
    pair_cache_size: int = param(
        30,
        "frames kept per input while waiting for the other half (image or detections)",
        min_value=1,
        max_value=1000,
    )
    pair_cache_mb: float = param(
        100.0,
        "most image bytes kept while waiting for detections [MiB] (the newest image is always kept)",
        min_value=1.0,
        max_value=100000.0,
    )
    max_boxes: int = param(
        100,
        "most boxes classified per frame (the highest scores); the rest are counted as capped",
        min_value=1,
        max_value=10000,
        live=True,
    )


class GlassNode(DomainAwareNode[GlassParameters, GlassClassifier]):
    """Publishes the glass type of every configured detection of each paired frame, marked with
    the farthest of its crops' and the detector's domain verdicts (neither scored: not scored)."""

    parameters_spec = GlassParameters

    def __init__(self, node_name: str = NODE_NAME, **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        self._images: StampCache[SharedImage] = StampCache()
        self._early_detections: StampCache[DetectionArray] = StampCache()
        self._box_counts = {"boxes_invalid": 0, "boxes_capped": 0}

    def load_model(self, params: GlassParameters) -> GlassClassifier:
        classifier = load_classifier(
            resolve_model_path(params.model_path),
            device=params.device,
            batch_size=params.batch_size,
            onnx=session_options(params, params.cpu_threads),
        )
        return GlassClassifier(classifier)

    def model_input_size(self, model: GlassClassifier) -> int:
        return model.classifier.preprocessing.image_size

    def check_parameters(self, params: GlassParameters, model: GlassClassifier) -> None:
        if not params.classes:
            raise ValueError(
                "parameter 'classes' is empty, so nothing would be classified; list the detector "
                f"classes to crop, e.g. {list(DEFAULT_DETECTOR_CLASSES)}"
            )

    def create_outputs(self, params: GlassParameters) -> None:
        self.glasses_pub = self.create_output(GlassClassificationArray, GLASSES)
        self.overlay = BoxOverlay(self, GLASS_MARKERS, GLASS_DEBUG_IMAGE, MARKER_NAMESPACE)

    def create_inputs(self, params: GlassParameters) -> None:
        self._images = StampCache(
            params.pair_cache_size, max_bytes=int(params.pair_cache_mb * 2**20), size_of=_image_bytes
        )
        self._early_detections = StampCache(params.pair_cache_size)
        self.create_input(DetectionArray, DETECTIONS, self._on_detections, output_qos())

    def on_image(self, image: SharedImage) -> None:
        key = stamp_key(image.header)
        detections = self._early_detections.pop(key)
        if detections is None:
            self._images.put(key, image)
        else:
            self.submit(image, context=detections)

    def _on_detections(self, msg: DetectionArray) -> None:
        key = stamp_key(msg.header)
        image = self._images.pop(key)
        if image is None:
            self._early_detections.put(key, msg)
        else:
            self.submit(image, context=msg)

    def extra_counters(self) -> Mapping[str, Any]:
        return {
            **super().extra_counters(),
            "images_waiting": len(self._images),
            "image_bytes_waiting": self._images.bytes,
            "detections_waiting": len(self._early_detections),
            "images_unpaired": self._images.evicted,
            "detections_unpaired": self._early_detections.evicted,
            **self._box_counts,
        }

    def status_message(self, summary: PeriodSummary) -> Status | None:
        """Images that arrive but wait for detections are not "no images"; say what is missing."""
        arrived = summary.delta("accepted")
        if summary.new_received or not arrived:
            return super().status_message(summary)
        topic = self.resolve_topic_name(DETECTIONS)
        return (
            DiagnosticStatus.WARN,
            f"{arrived} images arrived but none was paired with detections on {topic} "
            f"({summary.delta('images_unpaired')} evicted unpaired, "
            f"{summary.delta('detections_unpaired')} detections without an image): is the detector "
            "running on the same camera, and are both stamped alike?",
        )

    def process_frame(self, frame: Frame, context: DetectionArray) -> None:
        _check_sizes(frame, context)
        params = self.params
        checked = checked_detections(context.detections, params.max_boxes)
        if checked.invalid or checked.capped:
            self._box_counts["boxes_invalid"] += checked.invalid
            self._box_counts["boxes_capped"] += checked.capped
            self.get_logger().warning(
                f"skipping {checked.invalid} invalid and {checked.capped} boxes over max_boxes="
                f"{params.max_boxes} of a frame" + (f"; first: {checked.reason}" if checked.reason else ""),
                throttle_duration_sec=LOG_THROTTLE_S,
            )
        results = self.model.classify(frame.bgr, checked.kept, params.classes, params.padding)
        verdicts = [*self.model.classifier.domain_verdicts(), *_detector_verdict(context)]
        verdict = self.domain.observe(self.judged(frame.bgr, worst(verdicts)))
        message = GlassClassificationArray(
            header=copy_header(frame.header),
            model_id=self.model.classifier.model_id,
            glasses=[_result_to_msg(r) for r in results],
        )
        self.glasses_pub.publish(mark_domain(message, verdict))
        labelled = [_labelled_box(r) for r in results]
        self.overlay.publish(frame, labelled, params.marker_lifetime_s, params.debug_image)


def _detector_verdict(detections: DetectionArray) -> list[DomainVerdict]:
    """The detector's verdict on the frame, when it scored it: its boxes (our crops) are only as
    trustworthy as the frame they were found in."""
    scored = detections.domain_score >= 0.0
    return [DomainVerdict(float(detections.domain_score), bool(detections.in_domain))] if scored else []


def _image_bytes(image: SharedImage) -> int:
    return image.nbytes


def _check_sizes(frame: Frame, detections: DetectionArray) -> None:
    """Boxes are in the detector's source pixels; a differently sized image would crop nonsense."""
    declared = (int(detections.image_width), int(detections.image_height))
    if declared != (0, 0) and declared != (frame.width, frame.height):
        raise ValueError(
            f"detections of stamp {detections.header.stamp.sec}.{detections.header.stamp.nanosec:09d} "
            f"are for a {declared[0]}x{declared[1]} image but the image is {frame.width}x{frame.height}; "
            "remap 'image' to the same camera topic the detector reads"
        )


def _result_to_msg(result: GlassResult) -> GlassClassification:
    return GlassClassification(
        detection=detection_to_msg(result.detection),
        glass_type=result.glass_type,
        glass_type_id=int(result.glass_type_id),
        score=float(result.score),
        fragile=bool(result.fragile),
    )


def _labelled_box(result: GlassResult) -> Detection:
    """The detection relabelled with its glass type, so the shared marker/drawing helpers show it."""
    suffix = " FRAGILE" if result.fragile else ""
    return replace(
        result.detection,
        class_id=result.glass_type_id,
        class_name=f"{result.glass_type}{suffix}",
        score=result.score,
    )


def main(args: Sequence[str] | None = None) -> None:
    run_node(GlassNode, args)


if __name__ == "__main__":
    main()
