"""Measure a detector the way the node uses it: accuracy and latency on synthetic camera frames.

``python -m perception_training.detector.benchmark models/detector/yolo11n_synthetic.safetensors``
loads the model through :class:`perception.core.detector.Detector` (so the figures include
letterboxing, NMS and box scaling), scores it on held-out test-split scenes with the project's
mAP50 helper, and times ``detect`` (median and p90 after warm-up). Beside mAP50 it reports each
class's precision and recall at IoU >= 0.5 for the boxes a node would publish (score >=
``--min-score``), and ``--jpeg Q`` first round-trips frames through JPEG, as a compressed bag does.
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from perception.core.detection_metrics import map50
from perception.core.detections import Detection
from perception.core.detector import Detector
from perception_training.ood.sources import jpeg_round_trip
from perception_training.synthetic import DETECTOR_CLASSES, SceneWorld

WARM_UP = 3
IOU = 0.5


def precision_recall(
    predictions: Sequence[Sequence[Detection]], truths: Sequence[Sequence[Detection]], min_score: float
) -> dict[str, dict[str, float]]:
    """Per class name: precision and recall at IoU >= 0.5 of the predictions scoring ``min_score``.

    Each image's predictions, best first, take the unmatched same-class truth they overlap most;
    a class never predicted has precision 1 (nothing false), one never present recall 1.
    """
    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for predicted, truth in zip(predictions, truths, strict=True):
        free = list(truth)
        for box in sorted((d for d in predicted if d.score >= min_score), key=lambda d: -d.score):
            overlaps = [box.iou(t) if t.class_name == box.class_name else 0.0 for t in free]
            best = int(np.argmax(overlaps)) if overlaps else -1
            hit = best >= 0 and overlaps[best] >= IOU
            counts[box.class_name]["tp" if hit else "fp"] += 1
            if hit:
                free.pop(best)
        for missed in free:
            counts[missed.class_name]["fn"] += 1
    return {
        name: {
            "precision": round(c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 1.0, 4),
            "recall": round(c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 1.0, 4),
        }
        for name, c in sorted(counts.items())
    }


def benchmark(
    model: Path,
    scenes: int = 100,
    seed: int = 0,
    size: tuple[int, int] = (640, 480),
    device: str = "cpu",
    min_score: float = 0.25,
    jpeg: int = 0,
    imgsz: int | None = None,
) -> dict:
    """Accuracy (mAP50, per-class AP50, precision and recall at ``min_score``) and ``detect``
    latency of ``model`` on test-split scenes, JPEG round-tripped at quality ``jpeg`` (0: raw),
    at network input ``imgsz`` (None: the model's own, as detector_node's ``image_size: 0``)."""
    detector = Detector.load(model, device=device, imgsz=imgsz)
    world = SceneWorld(seed)
    predictions, truths, times_ms = [], [], []
    for index in tqdm(range(scenes), desc=f"benchmark {model.name}", unit="frame"):
        scene = world.scene(index, "test", size=size)
        image = jpeg_round_trip(scene.image, jpeg) if jpeg else scene.image
        started = time.perf_counter()
        predictions.append(detector.detect(image))
        times_ms.append((time.perf_counter() - started) * 1000.0)
        truths.append([Detection(o.class_id, o.class_name, 1.0, *o.box) for o in scene.objects])
    score = map50(predictions, truths, DETECTOR_CLASSES)
    timed = sorted(times_ms[WARM_UP:])
    return {
        "model": detector.model_id,
        "device": detector.device,
        "frame": f"{size[0]}x{size[1]}",
        "jpeg": jpeg,
        "seed": seed,
        "imgsz": detector.imgsz,
        "scenes": scenes,
        "map50": round(score.map50, 4),
        "ap50": {name: round(value, 4) for name, value in score.per_class.items()},
        f"at_score_{min_score}": precision_recall(predictions, truths, min_score),
        "median_ms": round(statistics.median(timed), 1),
        "p90_ms": round(timed[int(0.9 * (len(timed) - 1))], 1),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: print one JSON line per model."""
    logging.basicConfig(level=logging.INFO)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path, help=".safetensors, .pt or .onnx detectors")
    parser.add_argument("--scenes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0, help="synthetic world seed (test split is held out)")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--min-score", type=float, default=0.25, help="score a published box needs")
    parser.add_argument("--jpeg", type=int, default=0, help="JPEG quality frames go through first (0: raw)")
    parser.add_argument(
        "--imgsz",
        type=int,
        help="network input size (long side), as detector_node's image_size; default: the model's",
    )
    args = parser.parse_args(argv)
    size = (args.width, args.height)
    for model in args.models:
        result = benchmark(
            model, args.scenes, args.seed, size, args.device, args.min_score, args.jpeg, args.imgsz
        )
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
