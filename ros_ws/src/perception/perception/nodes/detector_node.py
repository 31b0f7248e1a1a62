"""YOLO detector node: camera image -> perception_msgs/DetectionArray (+ markers, debug image).

Thin adapter over ``perception.core.detector_api.load_detector`` (torch for ``.safetensors`` /
``.pt``, ONNX Runtime without torch for ``.onnx``) on the shared TorchModelNode base.
Inputs: ``image`` (sensor_msgs/Image) or ``image/compressed``. Outputs: ``detections``
(perception_msgs/DetectionArray, header copied from the image, marked with the frame's
``domain_score`` / ``in_domain``: docs/ood.md), ``markers``
(visualization_msgs/MarkerArray in image pixels), ``debug_image`` (bgr8, when enabled),
``detections_2d`` (vision_msgs/Detection2DArray, the same boxes, when vision_msgs is installed
and ``vision_msgs_output`` is on).
Run: ``ros2 run perception detector_node --ros-args --params-file config/jetson.yaml``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from perception.core.constants import MODELS_DIR_ENV
from perception.core.detector_api import DetectorModel, load_detector
from perception.nodes.framework import vision_msgs_interop
from perception.nodes.framework.box_overlay import BoxOverlay, BoxOverlayParameters
from perception.nodes.framework.conversions import detection_array_msg
from perception.nodes.framework.domain_watch import DomainAwareNode, DomainParameters, mark_domain
from perception.nodes.framework.image_node import Frame
from perception.nodes.framework.model_path import resolve_model_path
from perception.nodes.framework.onnx_backend import OnnxParameters, session_options
from perception.nodes.framework.parameters import param
from perception.nodes.framework.runner import run_node
from perception.nodes.framework.torch_node import TorchNodeParameters
from perception.nodes.topics import DEBUG_IMAGE, DETECTIONS, DETECTIONS_2D, MARKERS
from perception_msgs.msg import DetectionArray

NODE_NAME = "detector_node"


@dataclass(frozen=True)
class DetectorParameters(TorchNodeParameters, BoxOverlayParameters, DomainParameters, OnnxParameters):
    """Everything the detector node reads; see config/*.yaml for the deployed values."""

    model_path: str = param(
        "detector/yolo11n_synthetic.safetensors",
        "detector model (.safetensors artifact or .pt on torch; .onnx on ONNX Runtime, without torch), "
        f"absolute or relative to ${MODELS_DIR_ENV}",
    )
    confidence: float = param(0.25, "minimum detection score", min_value=0.0, max_value=1.0, live=True)
    iou: float = param(
        0.45, "IoU threshold of non-maximum suppression", min_value=0.0, max_value=1.0, live=True
    )
    image_size: int = param(
        0,
        "network input size, long side [px]; 0 = the size the model was trained at",
        min_value=0,
        max_value=4096,
    )
    classes: tuple[str, ...] = param((), "publish only these class names; empty = all classes", live=True)
    half: bool = param(
        False, "FP16 inference (torch on CUDA, or TensorRT's engine; ignored with a warning elsewhere)"
    )
    vision_msgs_output: bool = param(
        True,
        "also publish vision_msgs/Detection2DArray on detections_2d (Isaac ROS, ultralytics_ros and "
        "rviz plugins read it); needs vision_msgs installed, else a note is logged and it is off",
    )


class DetectorNode(DomainAwareNode[DetectorParameters, DetectorModel]):
    """Publishes detections of every processed frame, boxes in the source image's pixels, marked
    with how unlike the training data the frame was (domain_score, in_domain)."""

    parameters_spec = DetectorParameters

    def __init__(self, node_name: str = NODE_NAME, **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)

    def load_model(self, params: DetectorParameters) -> DetectorModel:
        return load_detector(
            resolve_model_path(params.model_path),
            device=params.device,
            half=params.half,
            imgsz=params.image_size or None,
            onnx=session_options(params, params.cpu_threads, params.half),
        )

    def model_input_size(self, model: DetectorModel) -> int:
        return model.imgsz

    def check_parameters(self, params: DetectorParameters, model: DetectorModel) -> None:
        model.class_ids(params.classes)

    def create_outputs(self, params: DetectorParameters) -> None:
        self.detections_pub = self.create_output(DetectionArray, DETECTIONS)
        self.overlay = BoxOverlay(self, MARKERS, DEBUG_IMAGE)
        self.vision_pub = None
        if params.vision_msgs_output and vision_msgs_interop.available():
            self.vision_pub = self.create_output(vision_msgs_interop.array_type(), DETECTIONS_2D)
        elif params.vision_msgs_output:
            self.get_logger().info(
                "vision_msgs is not installed: no Detection2DArray on detections_2d "
                "(install ros-$ROS_DISTRO-vision-msgs, or set vision_msgs_output false)"
            )

    def process_frame(self, frame: Frame, context: Any) -> None:
        params = self.params
        detections = self.model.detect(
            frame.bgr, params.confidence, params.iou, _class_filter(params.classes)
        )
        verdict = self.domain.observe(self.judged(frame.bgr, self.model.domain_verdict()))
        message = detection_array_msg(
            frame.header, detections, frame.width, frame.height, self.model.model_id
        )
        self.detections_pub.publish(mark_domain(message, verdict))
        if self.vision_pub is not None:
            self.vision_pub.publish(vision_msgs_interop.detection_2d_array(frame.header, detections))
        self.overlay.publish(frame, detections, params.marker_lifetime_s, params.debug_image)


def _class_filter(classes: Sequence[str]) -> Sequence[str] | None:
    """Empty means "all classes" (ultralytics would read an empty list as "none")."""
    return classes or None


def main(args: Sequence[str] | None = None) -> None:
    run_node(DetectorNode, args)


if __name__ == "__main__":
    main()
