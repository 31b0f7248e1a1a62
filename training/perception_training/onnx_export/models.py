"""One :class:`Exportable` per artifact kind: the network as the torch runtime runs it, the tap
points its torch class scores with, and the input layout ONNX Runtime will be fed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from perception.core import captioner, classifier, detector, sign
from perception.core.artifacts import read_metadata
from perception.core.caption_api import CAPTIONER_KIND
from perception.core.caption_model import CaptionDecoder, CaptionModel
from perception.core.caption_onnx import DECODER_INPUTS, DECODER_OUTPUTS, ENCODER_OUTPUTS
from perception.core.classifier_io import CLASSIFIER_KIND
from perception.core.classifier_onnx import PROBABILITIES
from perception.core.detector_api import DEFAULT_IMGSZ
from perception.core.domain import load_statistics
from perception.core.onnx_session import DECODER_PART
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
        outputs=("output0",),
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
        outputs=(PROBABILITIES,),
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
        outputs=(PROBABILITIES,),
        metadata=metadata,
        head=softmax,
    )


class CaptionEncoderGraph(nn.Module):
    """What decoding needs of a batch of images, from one encoder pass: the grid features, their
    attention projection, the decoder's initial state and the concept head's probabilities."""

    def __init__(self, model: CaptionModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        features = self.model.encoder(images)
        hidden, projected = self.model.decoder.start(features)
        return features, projected, hidden, self.model.concept_probabilities(features)


class CaptionStepGraph(nn.Module):
    """One decoder step: the next word's logits and the next states (dropout is off in eval mode)."""

    def __init__(self, decoder: CaptionDecoder) -> None:
        super().__init__()
        self.decoder = decoder

    def forward(
        self, tokens: torch.Tensor, hidden: torch.Tensor, features: torch.Tensor, projected: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.decoder.step(tokens, hidden, features, projected)


def captioner_export(artifact: Path) -> Exportable:
    """The encoder (scored) for a dynamic batch of frames, and the decoder step as a part for a dynamic
    number of rows (sequences), which the ONNX Runtime captioner loops over word by word."""
    model, vocabulary, metadata = captioner.model_from_artifact(artifact)
    size = int(metadata["input_size"][0])
    generator = torch.Generator().manual_seed(0)
    encoder = CaptionEncoderGraph(model)
    images = torch.rand(2, 3, size, size, generator=generator)
    with torch.no_grad():  # not inference mode: tracing the step takes these as inputs
        features, projected, hidden, _ = encoder(images)
    rows = {name: {0: "rows"} for name in (*DECODER_INPUTS, *DECODER_OUTPUTS)}
    step = Exportable(
        network=CaptionStepGraph(model.decoder),
        points=[],
        statistics=None,
        example=(torch.tensor([vocabulary.start, vocabulary.end]), hidden, features, projected),
        outputs=DECODER_OUTPUTS,
        metadata={"kind": CAPTIONER_KIND},
        dynamic_axes=rows,
        inputs=DECODER_INPUTS,
    )
    return Exportable(
        network=encoder,
        points=captioner.domain_points(model),
        statistics=load_statistics(artifact),
        example=images,
        outputs=ENCODER_OUTPUTS,
        metadata=metadata,
        dynamic_axes={name: {0: "images"} for name in (INPUT, *ENCODER_OUTPUTS)},
        parts={DECODER_PART: step},
    )


EXPORTS: dict[str, Callable[[Path], Exportable]] = {
    CAPTIONER_KIND: captioner_export,
    detector.KIND: detector_export,
    CLASSIFIER_KIND: classifier_export,
    SIGN_KIND: sign_export,
}
