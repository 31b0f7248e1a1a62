"""Every topic a node of this package uses, declared once: the nodes read their names from here,
and so does the graph description (``perception.bringup.graph``), which the launch files start.

Names are as the node uses them: relative ones resolve under the node's namespace, absolute
ones (leading ``/``) do not. No rclpy and no model imports here: the launch process reads this
module, and so does a test that compares these declarations with each running node's real
publishers and subscriptions (tests/nodes/test_graph_topics.py).
"""

from __future__ import annotations

from dataclasses import dataclass

# Shared by several nodes.
IMAGE = "image"  # sensor_msgs/Image, or CompressedImage on IMAGE + COMPRESSED_SUFFIX
COMPRESSED_SUFFIX = "/compressed"
IMAGE_COMPRESSED = IMAGE + COMPRESSED_SUFFIX
DIAGNOSTICS_TOPIC = "/diagnostics"  # diagnostic_msgs/DiagnosticArray, ROS's well-known topic
DETECTIONS = "detections"  # perception_msgs/DetectionArray: detector -> glass, hazard
CAPTION = "caption"  # perception_msgs/Caption: caption -> hazard
# Behaviour nodes read captions from one well-known topic, whatever namespace the stack runs
# in: the graph remaps CAPTION to it for the caption and hazard nodes.
CAPTION_TOPIC = "/caption"

# detector_node
MARKERS = "markers"
DEBUG_IMAGE = "debug_image"
DETECTIONS_2D = "detections_2d"  # vision_msgs/Detection2DArray, when vision_msgs_output is on

# glass_node
GLASSES = "glasses"
GLASS_MARKERS = "glass_markers"
GLASS_DEBUG_IMAGE = "glass_debug_image"

# caption_node
CAPTION_SERVICE = "caption_image"  # perception_msgs/srv/CaptionImage

# hazard_node
HAZARD_ALERTS = "hazard_alerts"

# sign_node
SIGN = "sign"


@dataclass(frozen=True)
class NodeTopics:
    """A node's topics. ``optional`` lists those of ``subscribes``/``publishes`` that exist only
    while a parameter enables them (the detector's vision_msgs output, the hazard node's
    detections input); image nodes subscribe ``image`` or ``image/compressed`` by
    ``compressed_input``, so ``subscribes`` leaves the camera out for them."""

    subscribes: tuple[str, ...] = ()
    publishes: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    image_input: bool = True


DETECTOR = NodeTopics(
    publishes=(DETECTIONS, MARKERS, DEBUG_IMAGE, DETECTIONS_2D, DIAGNOSTICS_TOPIC),
    optional=(DETECTIONS_2D,),
)
GLASS = NodeTopics(
    subscribes=(DETECTIONS,),
    publishes=(GLASSES, GLASS_MARKERS, GLASS_DEBUG_IMAGE, DIAGNOSTICS_TOPIC),
)
CAPTION_NODE = NodeTopics(publishes=(CAPTION, DIAGNOSTICS_TOPIC))  # and serves CAPTION_SERVICE
SIGN_NODE = NodeTopics(publishes=(SIGN, DIAGNOSTICS_TOPIC))
HAZARD = NodeTopics(
    subscribes=(CAPTION, DETECTIONS),
    publishes=(HAZARD_ALERTS,),
    optional=(DETECTIONS,),  # while use_detections is true
    image_input=False,
)
