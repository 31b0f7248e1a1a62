"""Fragile-glass pipeline glue: re-classify detector boxes of drinking vessels by glass type.

The detector only knows COCO's ``cup`` and ``wine glass``; a robot needs to know whether the
thing it is about to grasp is fragile glass. Every matching box of a frame is cropped (with a
little context), classified in one batch, and flagged fragile or not. No rclpy here: the glass
node calls :meth:`GlassClassifier.classify` and only converts messages.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from perception.core.classifier_io import Prediction, Preprocessing
from perception.core.detections import Detection
from perception.core.domain_verdict import DomainVerdict
from perception.core.images import check_bgr8
from perception.core.onnx_session import ON_CPU, ONNX_SUFFIX, SessionOptions

LOG = logging.getLogger(__name__)

FRAGILE_GLASS_TYPES = frozenset({"beer_glass", "soju_glass", "wine_glass"})
DEFAULT_DETECTOR_CLASSES = ("cup", "wine glass")
# Detector classes that are glass whatever the glass-type classifier says: a stemmed wine glass
# is not among the classifier's types, and calling it a "cup" must not make it robust.
ALWAYS_FRAGILE_DETECTIONS = frozenset({"wine glass"})


class CropClassifier(Protocol):
    """What the glass pipeline uses of a classifier: the torch ``Classifier`` and ``OnnxClassifier``."""

    model_id: str
    classes: list[str]
    preprocessing: Preprocessing

    def predict(self, crops_bgr: Sequence[np.ndarray]) -> list[Prediction]: ...

    def domain_verdicts(self) -> list[DomainVerdict]: ...


def load_classifier(
    path: str | Path, device: str = "auto", batch_size: int = 32, onnx: SessionOptions = ON_CPU
) -> CropClassifier:
    """An ``.onnx`` on ONNX Runtime with ``onnx`` (no torch imported), an artifact on torch at ``device``."""
    if Path(path).suffix.lower() == ONNX_SUFFIX:
        from perception.core.classifier_onnx import OnnxClassifier

        return OnnxClassifier.load(path, onnx, batch_size)
    from perception.core.classifier import Classifier

    return Classifier.load(path, device=device, batch_size=batch_size)


@dataclass(frozen=True)
class GlassResult:
    """A detection with its glass type, the classifier's confidence, and whether it is fragile."""

    detection: Detection
    glass_type: str
    glass_type_id: int
    score: float
    fragile: bool


def is_fragile(glass_type: str, fragile_types: Collection[str] = FRAGILE_GLASS_TYPES) -> bool:
    """Glass vessels break; a (ceramic or plastic) cup does not need gentle handling."""
    return glass_type in fragile_types


def padded_box(
    box: tuple[float, float, float, float], padding: float, width: int, height: int
) -> tuple[int, int, int, int]:
    """Grow ``box`` by ``padding`` x its size on every side, round outwards, clip to the image."""
    x_min, y_min, x_max, y_max = box
    pad_x, pad_y = (x_max - x_min) * padding, (y_max - y_min) * padding
    return (
        min(max(math.floor(x_min - pad_x), 0), width),
        min(max(math.floor(y_min - pad_y), 0), height),
        min(max(math.ceil(x_max + pad_x), 0), width),
        min(max(math.ceil(y_max + pad_y), 0), height),
    )


def crop_with_padding(
    frame: np.ndarray, box: tuple[float, float, float, float], padding: float
) -> np.ndarray | None:
    """The padded, clipped crop of ``box`` (a view of ``frame``), or None when nothing is left."""
    height, width = frame.shape[:2]
    x0, y0, x1, y1 = padded_box(box, padding, width, height)
    if x1 <= x0 or y1 <= y0:
        return None
    return frame[y0:y1, x0:x1]


class GlassClassifier:
    """Classify every cup / wine-glass detection of a frame into a glass type in one batch."""

    def __init__(
        self,
        classifier: CropClassifier,
        fragile_types: Collection[str] = FRAGILE_GLASS_TYPES,
        fragile_detections: Collection[str] = ALWAYS_FRAGILE_DETECTIONS,
    ) -> None:
        self.classifier = classifier
        self.fragile_types = frozenset(fragile_types)
        self.fragile_detections = frozenset(fragile_detections)

    @classmethod
    def load(
        cls, path: str | Path, device: str = "auto", batch_size: int = 32, onnx: SessionOptions = ON_CPU
    ) -> GlassClassifier:
        """Load a glass-type classifier artifact or its ``.onnx`` export (see models/glass/)."""
        return cls(load_classifier(path, device, batch_size, onnx))

    @property
    def glass_types(self) -> list[str]:
        return self.classifier.classes

    def classify(
        self,
        frame_bgr: np.ndarray,
        detections: Sequence[Detection],
        classes: Collection[str] = DEFAULT_DETECTOR_CLASSES,
        padding: float = 0.1,
    ) -> list[GlassResult]:
        """Results for the detections whose class is in ``classes``, in detection order.

        ``fragile`` is true for a fragile glass type, and for every detector class in
        ``fragile_detections`` (a wine glass is glass even when the classifier calls it a cup).

        Boxes lying wholly outside the frame are skipped (logged at debug level).
        """
        check_bgr8(frame_bgr, "glass classification")
        kept: list[Detection] = []
        crops: list[np.ndarray] = []
        for detection in detections:
            if detection.class_name not in classes:
                continue
            crop = crop_with_padding(frame_bgr, detection.xyxy, padding)
            if crop is None:
                LOG.debug("skipping %s: its box lies outside the %s frame", detection, frame_bgr.shape)
                continue
            kept.append(detection)
            crops.append(crop)
        predictions = self.classifier.predict(crops)
        return [
            GlassResult(
                det,
                pred.class_name,
                pred.class_id,
                pred.score,
                is_fragile(pred.class_name, self.fragile_types) or det.class_name in self.fragile_detections,
            )
            for det, pred in zip(kept, predictions, strict=True)
        ]
