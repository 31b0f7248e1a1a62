"""The detection record every node, metric and bag writer shares, with box helpers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Detection:
    """One object found in an image; the box is in the source image's pixels."""

    class_id: int
    class_name: str
    score: float
    x_min: float
    y_min: float
    x_max: float
    y_max: float
    track_id: int = -1

    @property
    def width(self) -> float:
        return max(0.0, self.x_max - self.x_min)

    @property
    def height(self) -> float:
        return max(0.0, self.y_max - self.y_min)

    @property
    def area(self) -> float:
        return self.width * self.height

    @property
    def center(self) -> tuple[float, float]:
        return (self.x_min + self.x_max) / 2.0, (self.y_min + self.y_max) / 2.0

    @property
    def xyxy(self) -> tuple[float, float, float, float]:
        return self.x_min, self.y_min, self.x_max, self.y_max

    def iou(self, other: Detection) -> float:
        """Intersection over union of the two boxes (0 when either is empty)."""
        inter_w = min(self.x_max, other.x_max) - max(self.x_min, other.x_min)
        inter_h = min(self.y_max, other.y_max) - max(self.y_min, other.y_min)
        if inter_w <= 0 or inter_h <= 0:
            return 0.0
        inter = inter_w * inter_h
        return inter / (self.area + other.area - inter)

    def scaled(self, sx: float, sy: float) -> Detection:
        """The same detection in an image resized by ``sx`` horizontally and ``sy`` vertically."""
        return replace(
            self, x_min=self.x_min * sx, x_max=self.x_max * sx, y_min=self.y_min * sy, y_max=self.y_max * sy
        )

    def clipped(self, width: int, height: int) -> Detection:
        """The box clipped to an image of ``width`` x ``height`` pixels."""
        return replace(
            self,
            x_min=min(max(self.x_min, 0.0), float(width)),
            x_max=min(max(self.x_max, 0.0), float(width)),
            y_min=min(max(self.y_min, 0.0), float(height)),
            y_max=min(max(self.y_max, 0.0), float(height)),
        )


def detections_from_boxes(
    boxes: Iterable[Sequence[float]],
    scores: Iterable[float],
    class_ids: Iterable[int],
    names: Mapping[int, str],
) -> list[Detection]:
    """Detections from pixel ``x0, y0, x1, y1`` boxes, dropping any without area: a box clipped to
    the frame's edge can collapse to zero width or height, and a consumer must never get one."""
    return [
        Detection(int(c), names[int(c)], float(s), *map(float, box))
        for box, s, c in zip(boxes, scores, class_ids, strict=True)
        if box[2] > box[0] and box[3] > box[1]
    ]
