"""Measure a detector the way the node uses it: accuracy and latency on 640x480 synthetic frames.

``python -m perception_training.detector.benchmark models/detector/yolo11n_synthetic.safetensors``
loads the model through :class:`perception.core.detector.Detector` (so the figures include
letterboxing, NMS and box scaling), scores it on held-out test-split scenes with the project's
mAP50 helper, and times ``detect`` (median and p90 after warm-up).
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from perception.core.detection_metrics import map50
from perception.core.detections import Detection
from perception.core.detector import Detector
from perception_training.synthetic import DETECTOR_CLASSES, SceneWorld

WARM_UP = 3


def benchmark(
    model: Path, scenes: int = 100, seed: int = 0, size: tuple[int, int] = (640, 480), device: str = "cpu"
) -> dict:
    """Accuracy (mAP50, per-class AP50) and ``detect`` latency of ``model`` on test-split scenes."""
    detector = Detector.load(model, device=device)
    world = SceneWorld(seed)
    predictions, truths, times_ms = [], [], []
    for index in tqdm(range(scenes), desc=f"benchmark {model.name}", unit="frame"):
        scene = world.scene(index, "test", size=size)
        started = time.perf_counter()
        predictions.append(detector.detect(scene.image))
        times_ms.append((time.perf_counter() - started) * 1000.0)
        truths.append([Detection(o.class_id, o.class_name, 1.0, *o.box) for o in scene.objects])
    score = map50(predictions, truths, DETECTOR_CLASSES)
    timed = sorted(times_ms[WARM_UP:])
    return {
        "model": detector.model_id,
        "device": detector.device,
        "frame": f"{size[0]}x{size[1]}",
        "imgsz": detector.imgsz,
        "scenes": scenes,
        "map50": round(score.map50, 4),
        "ap50": {name: round(value, 4) for name, value in score.per_class.items()},
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
    args = parser.parse_args(argv)
    for model in args.models:
        print(json.dumps(benchmark(model, args.scenes, args.seed, (args.width, args.height), args.device)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
