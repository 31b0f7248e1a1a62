"""YOLO detection on ONNX Runtime with numpy pre- and post-processing: no torch, no ultralytics.

It reproduces what ultralytics' predictor does around the network, step for step, so an
``.onnx`` gives the boxes the ``.safetensors`` artifact gives (tests/unit/test_onnx_models.py):
letterbox (centred, grey 114 padding; the minimum rectangle a multiple of the stride when the
export's input size is dynamic, the fixed square otherwise), RGB scaled to [0, 1], the best
class of each anchor over ``conf``, class-aware greedy NMS (boxes offset by 7680 px per class),
at most 300 boxes, boxes scaled back and clipped to the frame. It loads our export
(``perception-train export-onnx``: classes and domain score included) and ultralytics' own
``yolo export format=onnx`` files (class names from their ``names`` metadata, not scored).
"""

from __future__ import annotations

import ast
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from perception.core.detections import Detection, detections_from_boxes
from perception.core.detector_api import DEFAULT_IMGSZ, ClassIndex, DetectorError, checked_path
from perception.core.domain_verdict import UNSCORED, DomainVerdict, verdict_of
from perception.core.images import check_bgr8
from perception.core.model_files import model_id
from perception.core.onnx_session import DOMAIN_OUTPUT, ON_CPU, OnnxSession, SessionOptions

LOG = logging.getLogger(__name__)

KIND = "detector"
PAD_VALUE = 114
MAX_WH = 7680  # per-class box offset of class-aware NMS (ultralytics' max_wh)
MAX_NMS = 30000  # most candidates NMS sees (highest scores)
MAX_DET = 300
DEFAULT_STRIDE = 32


@dataclass(frozen=True)
class Letterbox:
    """Where a frame sits inside the network input: its resized size and the padding before it."""

    width: int  # of the resized frame
    height: int
    left: int
    top: int
    input_width: int
    input_height: int

    @classmethod
    def fit(cls, height: int, width: int, target: tuple[int, int], stride: int | None) -> Letterbox:
        """ultralytics' LetterBox for a (height, width) frame into ``target`` (height, width); with
        ``stride`` the padding is cut to the minimum rectangle a multiple of it (dynamic inputs)."""
        ratio = min(target[0] / height, target[1] / width)
        new_w, new_h = max(round(width * ratio), 1), max(round(height * ratio), 1)
        pad_w, pad_h = target[1] - new_w, target[0] - new_h
        if stride:
            pad_w, pad_h = pad_w % stride, pad_h % stride
        left, top = round(pad_w / 2 - 0.1), round(pad_h / 2 - 0.1)
        right, bottom = round(pad_w / 2 + 0.1), round(pad_h / 2 + 0.1)
        return cls(new_w, new_h, left, top, new_w + left + right, new_h + top + bottom)

    def apply(self, image_bgr: np.ndarray) -> np.ndarray:
        """(1, 3, H, W) float32 RGB in [0, 1], the network's input."""
        if image_bgr.shape[:2] != (self.height, self.width):
            image_bgr = cv2.resize(image_bgr, (self.width, self.height), interpolation=cv2.INTER_LINEAR)
        padded = cv2.copyMakeBorder(
            image_bgr,
            self.top,
            self.input_height - self.height - self.top,
            self.left,
            self.input_width - self.width - self.left,
            cv2.BORDER_CONSTANT,
            value=(PAD_VALUE,) * 3,
        )
        rgb = cv2.cvtColor(padded, cv2.COLOR_BGR2RGB)
        return (rgb.transpose(2, 0, 1)[None].astype(np.float32)) / np.float32(255.0)

    def to_frame(self, boxes: np.ndarray, height: int, width: int) -> np.ndarray:
        """xyxy boxes in network pixels -> the frame's pixels, clipped to it."""
        scaled = (boxes - np.array([self.left, self.top] * 2, np.float32)) / np.array(
            [self.width / width, self.height / height] * 2, np.float32
        )
        return np.clip(scaled, 0.0, np.array([width, height] * 2, np.float32))


def greedy_nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Indices of the boxes kept, best first: each suppresses the later ones overlapping it by more
    than ``iou`` (torchvision's ``nms``)."""
    order = np.argsort(-scores, kind="stable")
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep: list[int] = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(int(best))
        top_left = np.maximum(boxes[best, :2], boxes[rest, :2])
        bottom_right = np.minimum(boxes[best, 2:], boxes[rest, 2:])
        inter = np.prod(np.clip(bottom_right - top_left, 0.0, None), axis=1)
        overlap = inter / (areas[best] + areas[rest] - inter)
        order = rest[overlap <= iou]
    return np.asarray(keep, np.int64)


def decode(
    output: np.ndarray, conf: float, iou: float, class_ids: Sequence[int] | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(xyxy, score, class id) of the boxes kept from one image's (4 + classes, anchors) output."""
    candidates = output.T
    scores = candidates[:, 4:]
    best = scores.argmax(axis=1)
    confidence = scores[np.arange(len(best)), best]
    keep = confidence > conf
    if class_ids is not None:
        keep &= np.isin(best, np.asarray(class_ids, np.int64))
    xywh, confidence, best = candidates[keep, :4], confidence[keep], best[keep]
    if len(confidence) > MAX_NMS:
        top = np.argsort(-confidence, kind="stable")[:MAX_NMS]
        xywh, confidence, best = xywh[top], confidence[top], best[top]
    half = xywh[:, 2:] / 2
    xyxy = np.concatenate([xywh[:, :2] - half, xywh[:, :2] + half], axis=1)
    kept = greedy_nms(xyxy + (best * MAX_WH)[:, None].astype(np.float32), confidence, iou)[:MAX_DET]
    return xyxy[kept], confidence[kept], best[kept]


class OnnxDetector:
    """A YOLO ``.onnx`` on ONNX Runtime, with :class:`~perception.core.detector.Detector`'s API."""

    def __init__(self, session: OnnxSession, class_names: Sequence[str], imgsz: int, stride: int) -> None:
        """``imgsz`` is rounded up to a multiple of ``stride`` (as ultralytics does); a fixed-shape
        export keeps its own input size. One blank frame runs so a broken file fails here."""
        self._session = session
        self._model_id = model_id(session.path)
        self._classes = ClassIndex(class_names, self._model_id)
        fixed = session.fixed_input_shape()
        if fixed is not None:
            self._target, self._stride = (int(fixed[2]), int(fixed[3])), None
        else:
            size = math.ceil(imgsz / stride) * stride
            self._target, self._stride = (size, size), stride
        self._verdict = UNSCORED
        self._warm_up()

    @classmethod
    def load(
        cls, path: str | Path, options: SessionOptions = ON_CPU, imgsz: int | None = None
    ) -> OnnxDetector:
        """Our export or ultralytics' ``.onnx``; DetectorError names the file, the problem and the fix."""
        path = checked_path(path)
        session = OnnxSession.open(path, options, expected_kind=KIND, error=DetectorError)
        names, default_imgsz, stride = _model_facts(session)
        if not session.metadata:
            LOG.info(
                "%s is a user model without a weights digest: loaded unverified, and its frames are "
                "not scored for their domain (no perception metadata)",
                path,
            )
        return cls(session, names, imgsz or default_imgsz, stride)

    @property
    def class_names(self) -> list[str]:
        return list(self._classes.names)

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def imgsz(self) -> int:
        """Network input size (long side, pixels)."""
        return max(self._target)

    @property
    def device(self) -> str:
        return f"onnxruntime:{self._session.provider}"

    def class_ids(self, names: Sequence[str]) -> list[int]:
        return self._classes.ids(names)

    def detect(
        self,
        image_bgr: np.ndarray,
        conf: float = 0.25,
        iou: float = 0.45,
        classes: Sequence[str] | None = None,
    ) -> list[Detection]:
        """Detect objects in an HxWx3 uint8 BGR image; boxes are in that image's pixels."""
        check_bgr8(image_bgr, "detect()", DetectorError)
        class_ids = self.class_ids(classes) if classes is not None else None
        height, width = image_bgr.shape[:2]
        letterbox = Letterbox.fit(height, width, self._target, self._stride)
        outputs = self._session.run(letterbox.apply(image_bgr))
        if self._session.scored:
            self._verdict = verdict_of(float(outputs[DOMAIN_OUTPUT][0]))
        raw = outputs[self._session.output_names[0]][0]
        names = self._classes.names
        if raw.ndim != 2 or raw.shape[0] != 4 + len(names):
            raise DetectorError(
                f"{self._model_id} outputs {raw.shape} per image, not (4 + {len(names)} classes, anchors): "
                "not a YOLO detection export this code decodes (an end-to-end/NMS export?); export it "
                "with `perception-train export-onnx` or `yolo export format=onnx nms=False`"
            )
        boxes, scores, ids = decode(raw, conf, iou, class_ids)
        return detections_from_boxes(letterbox.to_frame(boxes, height, width), scores, ids, names)

    def domain_verdict(self) -> DomainVerdict:
        """How unlike the training data the latest ``detect`` frame was (UNSCORED when not exported
        with domain statistics)."""
        return self._verdict

    def _warm_up(self) -> None:
        try:
            self.detect(np.zeros((*self._target, 3), np.uint8))
        except Exception as error:  # onnxruntime raises its own types for a graph that cannot run
            raise DetectorError(
                f"detector model {self._session.path} could not run ({type(error).__name__}: {error}); "
                "the file is corrupt or not a YOLO detection model: re-export or retrain it"
            ) from error
        self._verdict = UNSCORED


def _model_facts(session: OnnxSession) -> tuple[list[str], int, int]:
    """(class names, input size, stride) from our metadata or ultralytics' metadata_props."""
    if session.metadata:
        meta = session.metadata
        if not meta.get("classes"):
            raise DetectorError(
                f"{session.path} lacks the 'classes' metadata; export it again with "
                "`perception-train export-onnx`"
            )
        return list(meta["classes"]), int(meta.get("input_size", DEFAULT_IMGSZ)), int(meta["stride"])
    props = session.props
    try:
        names = ast.literal_eval(props["names"])
        imgsz = ast.literal_eval(props.get("imgsz", str(DEFAULT_IMGSZ)))
        stride = int(props.get("stride", DEFAULT_STRIDE))
    except (KeyError, ValueError, SyntaxError) as error:
        raise DetectorError(
            f"{session.path} names no classes (neither our 'perception' nor ultralytics' 'names' "
            f"metadata: {error!r}); export it with `perception-train export-onnx` or "
            "`yolo export format=onnx`"
        ) from error
    return [names[i] for i in sorted(names)], int(max(imgsz) if isinstance(imgsz, list) else imgsz), stride
