"""What every detector offers, and the one loader that picks the runtime by the file's suffix.

``load_detector`` hands ``.onnx`` files to ONNX Runtime (:class:`~perception.core.detector_onnx.
OnnxDetector`, no torch imported) and everything else to torch and ultralytics
(:class:`~perception.core.detector.Detector`, imported only then), so a node whose model is an
``.onnx`` never loads torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from perception.core.detections import Detection
from perception.core.domain_verdict import DomainVerdict
from perception.core.model_files import not_a_file
from perception.core.onnx_session import ON_CPU, ONNX_SUFFIX, SessionOptions, export_command

DEFAULT_IMGSZ = 640
SUFFIXES = (".safetensors", ".pt", ONNX_SUFFIX)


class DetectorError(RuntimeError):
    """The detector cannot be loaded or cannot run on the given input."""


class DetectorModel(Protocol):
    """What the detector node, the benchmarks and the metrics use of a detector."""

    @property
    def class_names(self) -> list[str]: ...

    @property
    def model_id(self) -> str: ...

    @property
    def imgsz(self) -> int: ...

    def detect(
        self,
        image_bgr: np.ndarray,
        conf: float = 0.25,
        iou: float = 0.45,
        classes: Sequence[str] | None = None,
    ) -> list[Detection]: ...

    def domain_verdict(self) -> DomainVerdict: ...

    def class_ids(self, names: Sequence[str]) -> list[int]: ...


class ClassIndex:
    """Class names in id order, and the ids of names a caller filters by."""

    def __init__(self, names: Sequence[str], owner: str) -> None:
        self.names = [str(name) for name in names]
        self._ids = {name: i for i, name in enumerate(self.names)}
        self._owner = owner

    def ids(self, names: Sequence[str]) -> list[int]:
        """Class ids for ``names``; DetectorError lists the valid names when one is unknown."""
        unknown = [name for name in names if name not in self._ids]
        if unknown:
            raise DetectorError(
                f"unknown class(es) {unknown} for detector {self._owner}; it knows {self.names}"
            )
        return [self._ids[name] for name in names]


def checked_path(path: str | Path) -> Path:
    """``path`` as a Path when it is a detector file of a known type; DetectorError says what to do."""
    path = Path(path)
    problem = not_a_file(path)
    if problem:
        make = (
            f"make it with `{export_command(path)}`"
            if path.suffix.lower() == ONNX_SUFFIX
            else "train one with `perception-train detector`"
        )
        raise DetectorError(
            f"detector model {path} {problem}; {make} or set model_path to an existing "
            f"{', '.join(SUFFIXES)} file"
        )
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DetectorError(
            f"{path}: unsupported detector file type {suffix!r}; use one of {', '.join(SUFFIXES)}"
        )
    return path


def load_detector(
    path: str | Path,
    device: str = "auto",
    half: bool = False,
    imgsz: int | None = None,
    onnx: SessionOptions = ON_CPU,
) -> DetectorModel:
    """A detector for ``path``: ``.onnx`` on ONNX Runtime with ``onnx`` (``device`` unused),
    ``.safetensors`` / ``.pt`` on torch at ``device`` (``onnx`` unused)."""
    path = checked_path(path)
    if path.suffix.lower() == ONNX_SUFFIX:
        from perception.core.detector_onnx import OnnxDetector

        return OnnxDetector.load(path, onnx, imgsz=imgsz)
    from perception.core.detector import Detector

    return Detector.load(path, device=device, half=half, imgsz=imgsz)
