"""Detection accuracy (mAP at IoU 0.5) of predicted vs ground-truth boxes, via torchmetrics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torchmetrics.detection import MeanAveragePrecision

from perception.core.detections import Detection


@dataclass(frozen=True)
class DetectionScore:
    """mAP50 over all classes and AP50 per class name (classes with ground truth only)."""

    map50: float
    per_class: dict[str, float]


def map50(
    predictions: Sequence[Sequence[Detection]],
    ground_truth: Sequence[Sequence[Detection]],
    class_names: Sequence[str] | None = None,
) -> DetectionScore:
    """Score per-image predictions against per-image ground truth (same order, same length).

    Classes are matched by name, so predictions from a model with a different class-id order
    (COCO vs ours) are scored correctly. ``class_names`` fixes the name -> id map; by default
    every name seen is used. Ground-truth scores are ignored.
    """
    if len(predictions) != len(ground_truth):
        raise ValueError(
            f"map50 needs one prediction list per ground-truth image: got {len(predictions)} "
            f"prediction lists for {len(ground_truth)} images"
        )
    names = (
        list(class_names)
        if class_names is not None
        else sorted({d.class_name for image in (*predictions, *ground_truth) for d in image})
    )
    index = {name: i for i, name in enumerate(names)}
    metric = MeanAveragePrecision(iou_thresholds=[0.5], class_metrics=True, box_format="xyxy")
    preds = [_as_target(image, index, with_scores=True) for image in predictions]
    targets = [_as_target(image, index, with_scores=False) for image in ground_truth]
    metric.update(preds, targets)
    result = metric.compute()
    classes = result["classes"].reshape(-1).tolist()
    values = result["map_per_class"].reshape(-1).tolist()
    per_class = {names[c]: max(0.0, float(v)) for c, v in zip(classes, values, strict=True) if v >= 0}
    return DetectionScore(map50=max(0.0, float(result["map_50"])), per_class=per_class)


def _as_target(
    image: Sequence[Detection], index: dict[str, int], with_scores: bool
) -> dict[str, torch.Tensor]:
    kept = [d for d in image if d.class_name in index]
    target = {
        "boxes": torch.tensor([d.xyxy for d in kept], dtype=torch.float32).reshape(-1, 4),
        "labels": torch.tensor([index[d.class_name] for d in kept], dtype=torch.int64),
    }
    if with_scores:
        target["scores"] = torch.tensor([d.score for d in kept], dtype=torch.float32)
    return target
