"""perception.core results <-> ROS messages: detections, headers, RViz markers, debug images.

Marker convention: markers are drawn in *image pixel coordinates* in the source image's
``frame_id``: x = column (right), y = row (down), z = 0, 1 unit = 1 pixel. RViz shows them
in that frame as a flat overlay (set the fixed frame to the camera's frame, or view with an
``Image`` display for the annotated ``debug_image``). Each MarkerArray starts with a DELETEALL
marker for its namespace and every marker has a short lifetime, so boxes of objects that
disappeared vanish even when publishing stops.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from builtin_interfaces.msg import Duration, Time
from geometry_msgs.msg import Point
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from perception.core.detections import Detection
from perception_msgs.msg import Detection as DetectionMsg
from perception_msgs.msg import DetectionArray

BOX_LINE_WIDTH_PX = 2.0
LABEL_HEIGHT_PX = 14.0


def stamp_seconds(stamp: Time) -> float:
    """A message stamp as float seconds of camera time (gaps, windows, clips: not exact nanoseconds)."""
    return stamp.sec + stamp.nanosec * 1e-9


def copy_header(header: Header) -> Header:
    """A new Header with the same stamp and frame_id (outputs must not alias inputs)."""
    copied = Header(frame_id=header.frame_id)
    copied.stamp.sec = header.stamp.sec
    copied.stamp.nanosec = header.stamp.nanosec
    return copied


def detection_to_msg(detection: Detection) -> DetectionMsg:
    return DetectionMsg(
        class_id=int(detection.class_id),
        class_name=str(detection.class_name),
        score=float(detection.score),
        x_min=float(detection.x_min),
        y_min=float(detection.y_min),
        x_max=float(detection.x_max),
        y_max=float(detection.y_max),
        track_id=int(detection.track_id),
    )


def detection_from_msg(msg: DetectionMsg) -> Detection:
    return Detection(
        class_id=msg.class_id,
        class_name=msg.class_name,
        score=msg.score,
        x_min=msg.x_min,
        y_min=msg.y_min,
        x_max=msg.x_max,
        y_max=msg.y_max,
        track_id=msg.track_id,
    )


@dataclass(frozen=True)
class CheckedDetections:
    """The usable detections of a DetectionArray, and what was left out and why."""

    kept: list[Detection]
    invalid: int  # non-finite or inverted box, score outside [0, 1]
    capped: int  # valid but beyond the per-frame limit (lowest scores)
    reason: str  # why the first invalid one was refused ("" when none was)


def checked_detections(msgs: Sequence[DetectionMsg], max_count: int) -> CheckedDetections:
    """Valid detections (finite box with x_min < x_max, y_min < y_max; finite score in [0, 1]),
    the ``max_count`` highest-scoring ones, in their original order.

    A NaN coordinate would fail a whole frame (``int(nan)``) and a NaN score passes every
    threshold test (``nan < x`` is False), so bad boxes are refused here, one by one.
    """
    valid: list[tuple[int, Detection]] = []
    invalid, reason = 0, ""
    for index, msg in enumerate(msgs):
        problem = _detection_problem(msg)
        if problem:
            invalid += 1
            reason = reason or f"detection {index} ({msg.class_name!r}): {problem}"
        else:
            valid.append((index, detection_from_msg(msg)))
    capped = max(len(valid) - max_count, 0)
    if capped:
        best = sorted(valid, key=lambda item: item[1].score, reverse=True)[:max_count]
        valid = sorted(best, key=lambda item: item[0])
    return CheckedDetections([d for _, d in valid], invalid, capped, reason)


@dataclass(frozen=True)
class CheckedCaption:
    """A caption's text cut to the allowed length, or why it must be ignored."""

    text: str
    truncated: bool
    problem: str  # "" when the caption is usable


def checked_caption(text: str, score: float, max_chars: int) -> CheckedCaption:
    """Refuse a non-finite score (``nan < threshold`` is False, so it would pass every
    threshold); cut the text to ``max_chars`` so tokenising it stays bounded."""
    if not math.isfinite(score):
        problem = f"caption score {score} is not a number; caption {text[:80]!r} ignored"
        return CheckedCaption("", False, problem)
    return CheckedCaption(text[:max_chars], len(text) > max_chars, "")


def _detection_problem(msg: DetectionMsg) -> str:
    box = (msg.x_min, msg.y_min, msg.x_max, msg.y_max)
    if not all(math.isfinite(v) for v in box):
        return f"box {box} is not finite"
    if not (msg.x_min < msg.x_max and msg.y_min < msg.y_max):
        return f"box {box} is empty or inverted"
    if not (math.isfinite(msg.score) and 0.0 <= msg.score <= 1.0):
        return f"score {msg.score} is not in [0, 1]"
    return ""


def detection_array_msg(
    header: Header, detections: Sequence[Detection], width: int, height: int, model_id: str
) -> DetectionArray:
    """All detections of one frame, stamped like the source image."""
    return DetectionArray(
        header=copy_header(header),
        image_width=int(width),
        image_height=int(height),
        model_id=model_id,
        detections=[detection_to_msg(d) for d in detections],
    )


def class_color(class_id: int) -> tuple[int, int, int]:
    """A stable, distinct BGR colour per class id (golden-ratio hue steps)."""
    hue = int((class_id * 0.618033988749895 % 1.0) * 180)
    hsv = np.array([[[hue, 220, 255]]], dtype=np.uint8)
    b, g, r = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0]
    return int(b), int(g), int(r)


def label_text(detection: Detection) -> str:
    track = f" #{detection.track_id}" if detection.track_id >= 0 else ""
    return f"{detection.class_name}{track} {detection.score:.2f}"


def detection_markers(
    header: Header, detections: Sequence[Detection], lifetime_s: float = 0.5, namespace: str = "detections"
) -> MarkerArray:
    """Boxes (LINE_STRIP) and labels (TEXT_VIEW_FACING) in image pixel coordinates; see module doc."""
    lifetime = Duration(sec=int(lifetime_s), nanosec=int((lifetime_s % 1.0) * 1e9))
    clear = Marker(header=copy_header(header), ns=namespace, action=Marker.DELETEALL)
    markers = [clear]
    for index, detection in enumerate(detections):
        b, g, r = class_color(detection.class_id)
        color = ColorRGBA(r=r / 255.0, g=g / 255.0, b=b / 255.0, a=1.0)
        x0, y0, x1, y1 = (float(v) for v in detection.xyxy)
        box = Marker(header=copy_header(header), ns=namespace, id=2 * index, type=Marker.LINE_STRIP)
        box.action = Marker.ADD
        box.pose.orientation.w = 1.0
        box.scale.x = BOX_LINE_WIDTH_PX
        box.color = color
        box.lifetime = lifetime
        box.points = [Point(x=x, y=y) for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0))]
        text = Marker(
            header=copy_header(header), ns=namespace, id=2 * index + 1, type=Marker.TEXT_VIEW_FACING
        )
        text.action = Marker.ADD
        text.pose.position = Point(x=x0, y=max(y0 - LABEL_HEIGHT_PX, 0.0))
        text.pose.orientation.w = 1.0
        text.scale.z = LABEL_HEIGHT_PX
        text.color = color
        text.lifetime = lifetime
        text.text = label_text(detection)
        markers += [box, text]
    return MarkerArray(markers=markers)


def draw_detections(bgr: np.ndarray, detections: Sequence[Detection]) -> np.ndarray:
    """A copy of the BGR image with boxes and labels drawn, for the debug_image topic."""
    canvas = np.array(bgr, dtype=np.uint8, copy=True)
    thickness = max(1, round(min(canvas.shape[:2]) / 300))
    font_scale = max(0.4, min(canvas.shape[:2]) / 900)
    for detection in detections:
        color = class_color(detection.class_id)
        x0, y0, x1, y1 = (round(v) for v in detection.xyxy)
        cv2.rectangle(canvas, (x0, y0), (x1, y1), color, thickness)
        text = label_text(detection)
        (tw, th), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1)
        top = max(y0 - th - baseline, 0)
        cv2.rectangle(canvas, (x0, top), (x0 + tw, top + th + baseline), color, cv2.FILLED)
        cv2.putText(
            canvas, text, (x0, top + th), cv2.FONT_HERSHEY_SIMPLEX, font_scale, (0, 0, 0), 1, cv2.LINE_AA
        )
    return canvas
