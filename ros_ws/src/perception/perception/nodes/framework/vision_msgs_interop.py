"""Detections as ``vision_msgs/Detection2DArray``, the type Isaac ROS, ultralytics_ros and the
vision_msgs rviz plugins consume.

vision_msgs is optional (not on PyPI; a ROS install or ../shared/ros-tools has it), so it is
imported here only: ``available()`` says whether it can be used.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import Any

from std_msgs.msg import Header

from perception.core.detections import Detection
from perception.nodes.framework.conversions import copy_header


def available() -> bool:
    """True when vision_msgs' Python messages can be imported."""
    return importlib.util.find_spec("vision_msgs") is not None


def array_type() -> type:
    """vision_msgs/Detection2DArray (call only when ``available()``)."""
    from vision_msgs.msg import Detection2DArray

    return Detection2DArray


def detection_2d_array(header: Header, detections: Sequence[Detection]) -> Any:
    """One Detection2D per detection: box centre and size in source pixels, the class name as
    ``class_id`` (vision_msgs' string id) with its score, ``id`` the track id when tracked."""
    from vision_msgs.msg import Detection2D, ObjectHypothesisWithPose

    array = array_type()(header=copy_header(header))
    for detection in detections:
        track = str(detection.track_id) if detection.track_id >= 0 else ""
        item = Detection2D(header=copy_header(header), id=track)
        item.bbox.center.position.x = (detection.x_min + detection.x_max) / 2.0
        item.bbox.center.position.y = (detection.y_min + detection.y_max) / 2.0
        item.bbox.size_x = float(detection.x_max - detection.x_min)
        item.bbox.size_y = float(detection.y_max - detection.y_min)
        hypothesis = ObjectHypothesisWithPose()
        hypothesis.hypothesis.class_id = detection.class_name
        hypothesis.hypothesis.score = float(detection.score)
        item.results = [hypothesis]
        array.detections.append(item)
    return array
