"""Object detector on torch: our YOLO artifact and a user's ultralytics ``.pt``.

Our own weights ship as a safetensors artifact (see :mod:`perception.core.artifacts`): the
network is rebuilt from ultralytics' architecture description and the state dict is loaded
into it, so nothing is unpickled. A user may instead point at their own COCO-trained
ultralytics ``.pt`` (loaded by ultralytics with its weights-only allow-list, see
:mod:`perception.core.ultralytics_env`). ``.onnx`` files run on ONNX Runtime without torch
(:mod:`perception.core.detector_onnx`; :func:`perception.core.detector_api.load_detector` picks
by suffix). Boxes always come back in the pixels of the image passed in, whatever the network's
input size.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from perception.core.artifacts import ArtifactError, load_artifact, model_id
from perception.core.detections import Detection, detections_from_boxes
from perception.core.detector_api import (
    DEFAULT_IMGSZ,
    SUFFIXES,
    ClassIndex,
    DetectorError,
    checked_path,
)
from perception.core.detector_onnx import OnnxDetector
from perception.core.devices import half_supported, resolve_device
from perception.core.domain import (
    EARLY_BLOCKS,
    UNSCORED,
    DomainMonitor,
    DomainStatistics,
    DomainVerdict,
    FeatureTap,
    TapPoint,
    average_maps,
    load_statistics,
    model_tensors,
    style_and_content,
)
from perception.core.images import check_bgr8
from perception.core.ultralytics_env import import_ultralytics

LOG = logging.getLogger(__name__)

KIND = "detector"


def build_model(architecture: str, class_names: Sequence[str], model_yaml: Mapping[str, Any] | None = None):
    """A fresh (randomly initialised) ultralytics DetectionModel for ``class_names``.

    ``model_yaml`` (as stored in artifact metadata) takes precedence over ultralytics' bundled
    ``<architecture>.yaml``, so an artifact keeps loading if ultralytics changes its files.
    """
    import_ultralytics()
    from ultralytics.nn.tasks import DetectionModel

    cfg = dict(model_yaml) if model_yaml is not None else f"{architecture}.yaml"
    try:
        model = DetectionModel(cfg, nc=len(class_names), verbose=False)
    except FileNotFoundError as error:
        raise DetectorError(
            f"unknown detector architecture {architecture!r} ({error}); use a YOLO architecture "
            "ultralytics ships, e.g. yolo11n"
        ) from error
    model.names = dict(enumerate(class_names))
    return model


def model_from_artifact(path: str | Path):
    """Rebuild the DetectionModel stored in our artifact; return ``(model, metadata)``."""
    tensors, metadata = load_artifact(path, expected_kind=KIND)
    classes = metadata.get("classes")
    if not classes:
        raise DetectorError(
            f"{path} lacks the 'classes' metadata; regenerate it with `perception-train detector`"
        )
    model = build_model(metadata["architecture"], classes, metadata.get("model_yaml"))
    try:
        model.load_state_dict(model_tensors(tensors), strict=True)
    except RuntimeError as error:
        raise DetectorError(
            f"{path}: weights do not fit architecture {metadata['architecture']!r} with "
            f"{len(classes)} classes ({str(error).splitlines()[0]}); "
            "regenerate it with `perception-train detector`"
        ) from error
    return model.eval(), metadata


def domain_points(layers: torch.nn.Sequential) -> list[TapPoint]:
    """Style of the first backbone blocks and the head's inputs (the last layer's) averaged over space."""
    return style_and_content(layers[1 : EARLY_BLOCKS + 1], TapPoint(layers[-1], average_maps))


class Detector:
    """Runs a YOLO detector on BGR frames; build it with :meth:`Detector.load`."""

    def __init__(
        self,
        yolo,
        source: Path,
        imgsz: int,
        device: str,
        half: bool,
        statistics: DomainStatistics | None = None,
    ):
        """Wrap a loaded ultralytics YOLO; one warm-up frame reads its class names and input size.

        With ``statistics`` (our artifacts carry them) every ``detect`` is scored against the
        training data, see :meth:`domain_verdict`.
        """
        self._yolo = yolo
        self._model_id = model_id(source)
        self._imgsz = imgsz
        self._device = device
        self._half = half
        self._classes = ClassIndex([], self._model_id)
        self._warm_up(source)
        self._domain = DomainMonitor(statistics, self.domain_tap()) if statistics is not None else None

    @classmethod
    def load(
        cls, path: str | Path, device: str = "auto", half: bool = False, imgsz: int | None = None
    ) -> Detector | OnnxDetector:
        """Load ``*.safetensors`` (our artifact) or ``*.pt`` (ultralytics); an ``*.onnx`` gives an
        :class:`OnnxDetector` on ONNX Runtime's CPU provider (same API).

        ``imgsz`` is the network's input size (long side); by default the size the model was
        trained (or exported) at. ``half`` is honoured on CUDA only. Raises DetectorError
        (or ArtifactError) naming the file, the problem and the fix.
        """
        path = checked_path(path)
        suffix = path.suffix.lower()
        if suffix == ".onnx":
            return OnnxDetector.load(path, imgsz=imgsz)
        device = resolve_device(device)
        if half and not half_supported(device):
            LOG.warning("half precision is only used on CUDA; running %s in float32 on %s", path.name, device)
            half = False
        if device == "cpu":
            torch.set_flush_denormal(True)  # denormal floats make trained YOLO weights ~30% slower on x86
        statistics = None
        if suffix == ".safetensors":
            yolo, default_imgsz = _yolo_from_artifact(path)
            statistics = load_statistics(path)
        else:
            yolo, default_imgsz = _yolo_from_file(path)
            LOG.info(
                "%s is a user model without a weights digest: loaded unverified (our .safetensors "
                "artifacts are checked against theirs at load)",
                path,
            )
        return cls(yolo, path, imgsz=imgsz or default_imgsz, device=device, half=half, statistics=statistics)

    @property
    def class_names(self) -> list[str]:
        """Class names in class-id order."""
        return list(self._classes.names)

    @property
    def model_id(self) -> str:
        """File name plus the first 12 hex digits of its sha256: which weights produced a result."""
        return self._model_id

    @property
    def imgsz(self) -> int:
        """Network input size (long side, pixels)."""
        return self._imgsz

    @property
    def device(self) -> str:
        return self._device

    def detect(
        self,
        image_bgr: np.ndarray,
        conf: float = 0.25,
        iou: float = 0.45,
        classes: Sequence[str] | None = None,
    ) -> list[Detection]:
        """Detect objects in an HxWx3 uint8 BGR image; boxes are in that image's pixels.

        ``classes`` restricts the output to those class names (unknown names raise); ``None``
        keeps every class, an empty sequence keeps none.
        """
        check_bgr8(image_bgr, "detect()", DetectorError)
        class_ids = self.class_ids(classes) if classes is not None else None
        result = self._predict(image_bgr, conf=conf, iou=iou, classes=class_ids)
        boxes = result.boxes
        xyxy = boxes.xyxy.cpu().numpy().astype(float)
        scores = boxes.conf.cpu().numpy().astype(float)
        ids = boxes.cls.cpu().numpy().astype(int)
        return detections_from_boxes(xyxy, scores, ids, self._classes.names)

    def domain_verdict(self) -> DomainVerdict:
        """How unlike the training data the latest ``detect`` frame was (UNSCORED without statistics)."""
        if self._domain is None:
            return UNSCORED
        verdicts = self._domain.verdicts()
        return verdicts[-1] if verdicts else UNSCORED

    def layers(self) -> torch.nn.Sequential:
        """The layers of the network ``detect`` runs (ultralytics runs a fused copy); the last is
        the detection head. DetectorError for a model that is not a torch module."""
        network = getattr(self._yolo.predictor.model, "model", None)
        if not isinstance(network, torch.nn.Module):
            raise DetectorError(f"{self._model_id} is not a torch model: its features cannot be read")
        return network.model

    def domain_tap(self) -> FeatureTap:
        """A tap at :func:`domain_points` of the network ``detect`` runs."""
        return FeatureTap(domain_points(self.layers()))

    def class_ids(self, names: Sequence[str]) -> list[int]:
        """Class ids for ``names``; DetectorError lists the valid names when one is unknown."""
        return self._classes.ids(names)

    def _predict(self, image: np.ndarray, **kwargs: Any):
        return self._yolo.predict(
            image,
            imgsz=self._imgsz,
            device=self._device,
            quantize=16 if self._half else 32,
            verbose=False,
            **kwargs,
        )[0]

    def _warm_up(self, path: Path) -> None:
        """Run one blank frame so a corrupt export fails at load time, not on the first real frame."""
        try:
            result = self._predict(np.zeros((self._imgsz, self._imgsz, 3), np.uint8))
        except Exception as error:  # ultralytics raises many types for a bad model file
            raise DetectorError(
                f"detector model {path} could not run ({type(error).__name__}: {error}); "
                "the file is corrupt or not a YOLO detection model: re-export or retrain it"
            ) from error
        names = result.names
        self._classes = ClassIndex([names[i] for i in range(len(names))], self._model_id)
        predictor_imgsz = self._yolo.predictor.imgsz
        self._imgsz = (
            int(max(predictor_imgsz)) if isinstance(predictor_imgsz, (list, tuple)) else int(predictor_imgsz)
        )


def _yolo_from_artifact(path: Path):
    ultralytics = import_ultralytics()
    model, metadata = model_from_artifact(path)
    from ultralytics.cfg import DEFAULT_CFG_DICT

    yolo = ultralytics.YOLO(f"{metadata['architecture']}.yaml", task="detect")
    model.args = {**DEFAULT_CFG_DICT, "task": "detect"}
    model.task = "detect"
    yolo.model = model
    return yolo, int(metadata.get("input_size", DEFAULT_IMGSZ))


def _yolo_from_file(path: Path):
    ultralytics = import_ultralytics()
    try:
        yolo = ultralytics.YOLO(str(path), task="detect")
    except Exception as error:  # torch/pickle/ultralytics raise many types for a bad checkpoint
        raise DetectorError(
            f"{path} is not a loadable ultralytics model ({type(error).__name__}: {error}); "
            "export it again with ultralytics or use our .safetensors artifact (a .pt you trust that "
            "needs full unpickling loads with ULTRALYTICS_SAFE_LOAD=0)"
        ) from error
    if yolo.task != "detect":
        raise DetectorError(f"{path} is a YOLO {yolo.task!r} model; the detector needs a detection model")
    train_args = getattr(yolo.model, "args", {}) if isinstance(yolo.model, torch.nn.Module) else {}
    imgsz = train_args.get("imgsz", DEFAULT_IMGSZ)
    return yolo, int(max(imgsz) if isinstance(imgsz, (list, tuple)) else imgsz)


__all__ = [
    "DEFAULT_IMGSZ",
    "SUFFIXES",
    "ArtifactError",
    "Detector",
    "DetectorError",
    "OnnxDetector",
    "build_model",
    "model_from_artifact",
]
