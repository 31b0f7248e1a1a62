"""One :class:`Exportable` per artifact kind: the network as the torch runtime runs it, the tap
points its torch class scores with, and the input layout ONNX Runtime will be fed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from perception.core import classifier, detector, sign
from perception.core.artifacts import read_metadata
from perception.core.classifier_io import CLASSIFIER_KIND
from perception.core.classifier_onnx import PROBABILITIES
from perception.core.detector_api import DEFAULT_IMGSZ
from perception.core.domain import load_statistics
from perception.core.sign_api import SIGN_KIND
from perception_training.onnx_export.graph import INPUT, Exportable, softmax


def detector_export(artifact: Path) -> Exportable:
    """The fused network ultralytics' predictor runs, its head in export mode (decoded boxes and
    class scores, (1, 4 + classes, anchors)), input height and width dynamic so the letterbox can
    keep ultralytics' minimum rectangle."""
    from ultralytics.nn.modules.head import Detect

    model, metadata = detector.model_from_artifact(artifact)
    network = model.fuse(verbose=False)
    for module in network.modules():
        if isinstance(module, Detect):
            module.dynamic, module.export, module.format = True, True, "onnx"
    size = int(metadata.get("input_size", DEFAULT_IMGSZ))
    return Exportable(
        network=network,
        points=detector.domain_points(network.model),
        statistics=load_statistics(artifact),
        example=torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0)),
        output="output0",
        metadata={**metadata, "stride": int(network.stride.max())},
        dynamic_axes={INPUT: {2: "height", 3: "width"}, "output0": {2: "anchors"}},
    )


def classifier_export(artifact: Path) -> Exportable:
    """The classifier with a softmax after it; the batch of crops is dynamic."""
    loaded = classifier.Classifier.load(artifact, device="cpu")
    size = loaded.preprocessing.image_size
    return Exportable(
        network=loaded.model,
        points=classifier.domain_points(loaded.model),
        statistics=load_statistics(artifact),
        example=torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(0)),
        output=PROBABILITIES,
        metadata=read_metadata(artifact),
        head=softmax,
        dynamic_axes={INPUT: {0: "crops"}, PROBABILITIES: {0: "crops"}},
    )


def sign_export(artifact: Path) -> Exportable:
    """The video classifier with a softmax after it, for one clip of the artifact's fixed frames and crop."""
    network, metadata = sign.load_sign_model(artifact)
    frames, crop = int(metadata["num_frames"]), int(metadata["crop_size"])
    return Exportable(
        network=network,
        points=sign.domain_points(network),
        statistics=sign.load_sign_statistics(artifact),
        example=torch.rand(1, 3, frames, crop, crop, generator=torch.Generator().manual_seed(0)),
        output=PROBABILITIES,
        metadata=metadata,
        head=softmax,
    )


EXPORTS: dict[str, Callable[[Path], Exportable]] = {
    detector.KIND: detector_export,
    CLASSIFIER_KIND: classifier_export,
    SIGN_KIND: sign_export,
}
