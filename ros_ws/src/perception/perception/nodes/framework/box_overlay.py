"""What a box-publishing node shows a person: RViz markers of every frame's boxes, and the frame
annotated with them on a debug image topic while its ``debug_image`` parameter is on (a copy
and an encode per frame, so off by default). The detector and glass nodes share it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sensor_msgs.msg import Image
from visualization_msgs.msg import MarkerArray

from perception.core.detections import Detection
from perception.core.images import numpy_to_image
from perception.nodes.framework.conversions import detection_markers, draw_detections
from perception.nodes.framework.image_node import Frame
from perception.nodes.framework.managed_node import ManagedNode
from perception.nodes.framework.parameters import param


@dataclass(frozen=True)
class BoxOverlayParameters:
    """The parameters of a node with a ``BoxOverlay``; its parameter class inherits them."""

    debug_image: bool = param(
        False, "publish the annotated image on the debug image topic (costs a copy + encode)", live=True
    )
    marker_lifetime_s: float = param(
        0.5,
        "how long RViz keeps a box marker without an update [s] (0 = until the next frame clears it)",
        min_value=0.0,
        max_value=60.0,
        live=True,
    )


class BoxOverlay:
    """Markers on ``markers_topic`` (namespace ``marker_namespace``), annotated frames on
    ``debug_image_topic``; create it in ``create_outputs`` (its publishers are the node's outputs)."""

    def __init__(
        self,
        node: ManagedNode,
        markers_topic: str,
        debug_image_topic: str,
        marker_namespace: str = "detections",
    ) -> None:
        self._markers = node.create_output(MarkerArray, markers_topic)
        self._debug_image = node.create_output(Image, debug_image_topic)
        self._namespace = marker_namespace

    def publish(
        self, frame: Frame, boxes: Sequence[Detection], lifetime_s: float, debug_image: bool
    ) -> None:
        """Markers of ``boxes`` (kept ``lifetime_s`` by RViz) while anyone subscribes them (building
        them for nobody cost 2 % of a detector frame on ONNX Runtime); the annotated frame if
        ``debug_image``."""
        if self._markers.listened():
            self._markers.publish(detection_markers(frame.header, boxes, lifetime_s, self._namespace))
        if debug_image:
            annotated = draw_detections(frame.bgr, boxes)
            self._debug_image.publish(numpy_to_image(annotated, "bgr8", header=frame.header))
