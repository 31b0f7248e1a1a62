"""Glass pipeline glue: padded crops clipped at borders, fragile flags, one-batch classification,
and the committed demo artifact on fresh synthetic scenes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from perception.core.classifier import Classifier, Preprocessing
from perception.core.detections import Detection
from perception.core.glass import GlassClassifier, crop_with_padding, is_fragile, padded_box
from perception_training.synthetic.objects import GLASS_TYPES
from perception_training.synthetic.world import SceneWorld

ARTIFACT = Path(__file__).resolve().parents[2] / "models" / "glass" / "mobilenet_v2_glass.safetensors"


class ChannelMeans(nn.Module):
    """Logits = mean of each input channel, so a crop's colour decides its class."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return images.mean(dim=(2, 3)) * 10


def _det(name: str, box: tuple[float, float, float, float]) -> Detection:
    return Detection(0, name, 0.9, *box)


def test_padded_box_grows_rounds_outwards_and_clips() -> None:
    assert padded_box((10, 20, 30, 60), 0.1, 100, 100) == (8, 16, 32, 64)
    assert padded_box((10.5, 20.2, 30.5, 60.7), 0.0, 100, 100) == (10, 20, 31, 61)
    assert padded_box((-5, 90, 40, 130), 0.1, 100, 100) == (0, 86, 45, 100)


def test_crop_with_padding_is_a_clipped_view_or_none() -> None:
    frame = np.arange(50 * 40 * 3, dtype=np.uint8).reshape(50, 40, 3)
    crop = crop_with_padding(frame, (30, 40, 45, 60), 0.2)
    assert crop.shape == (50 - 36, 40 - 27, 3)
    assert np.shares_memory(crop, frame) and crop[0, 0, 0] == frame[36, 27, 0]
    assert crop_with_padding(frame, (50, 60, 70, 80), 0.1) is None
    assert crop_with_padding(frame, (10, 10, 10, 20), 0.0) is None


def test_fragile_types() -> None:
    assert is_fragile("beer_glass") and is_fragile("soju_glass") and is_fragile("wine_glass")
    assert not is_fragile("cup")


def _colour_glass_classifier(batch_size: int = 8) -> GlassClassifier:
    prep = Preprocessing(16, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    return GlassClassifier(
        Classifier(ChannelMeans(), ["cup", "beer_glass", "soju_glass"], prep, "cpu", batch_size)
    )


def test_classify_filters_orders_and_flags() -> None:
    frame = np.zeros((100, 200, 3), np.uint8)
    frame[10:40, 10:40] = (0, 0, 255)  # red in BGR -> class 0 "cup"
    frame[10:40, 60:90] = (0, 255, 0)  # green -> "beer_glass"
    frame[60:90, 150:200] = (255, 0, 0)  # blue, at the right border -> "soju_glass"
    detections = [
        _det("cup", (60, 10, 90, 40)),
        _det("person", (10, 10, 40, 40)),
        _det("wine glass", (160, 62, 230, 88)),  # runs off the frame: clipped
        _det("cup", (300, 300, 320, 320)),  # wholly outside: skipped
        _det("wine glass", (12, 12, 38, 38)),  # red: the classifier says cup, but a wine glass is glass
        _det("cup", (10, 10, 40, 40)),
    ]
    results = _colour_glass_classifier(batch_size=2).classify(frame, detections, padding=0.0)
    assert [r.detection for r in results] == [detections[i] for i in (0, 2, 4, 5)]
    assert [r.glass_type for r in results] == ["beer_glass", "soju_glass", "cup", "cup"]
    assert [r.glass_type_id for r in results] == [1, 2, 0, 0]
    assert [r.fragile for r in results] == [True, True, True, False]
    assert _colour_glass_classifier().classify(frame, []) == []


def test_classify_rejects_a_non_bgr_frame() -> None:
    with pytest.raises(ValueError, match="HxWx3 uint8 BGR"):
        _colour_glass_classifier().classify(np.zeros((10, 10), np.uint8), [])


def test_demo_artifact_recognises_glass_types_in_new_scenes() -> None:
    glass = GlassClassifier.load(ARTIFACT, device="cpu")
    assert sorted(glass.glass_types) == sorted(GLASS_TYPES)
    world = SceneWorld(seed=12345)  # not the seed the artifact was trained on
    correct = total = 0
    for index in range(6):
        scene = world.scene(index, "test", "glass")
        truth = [o for o in scene.objects if o.attributes.get("glass_type") in GLASS_TYPES]
        detections = [_det(o.class_name, o.box) for o in truth]
        results = glass.classify(scene.image, detections)
        by_detection = {r.detection: r for r in results}
        for obj, detection in zip(truth, detections, strict=True):
            total += 1
            correct += by_detection[detection].glass_type == obj.attributes["glass_type"]
    assert total >= 10
    assert correct / total >= 0.7, f"{correct}/{total} glass types right"
