"""What out-of-domain scoring costs a frame: the detector and the captioner with and without
their artifacts' domain statistics, on held-out synthetic 640x480 camera frames.

    python benchmarks/bench_domain_scoring.py [--frames 30 --threads 1]

"Without" is the same artifact re-saved without its statistics (network tensors unchanged),
so the only difference is the feature tap and the Mahalanobis distance. Prints a Markdown table
of median milliseconds per call (``detect`` + ``domain_verdict``, ``caption`` + ``domain_verdicts``).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from perception.core.artifacts import load_artifact, save_artifact
from perception.core.captioner import Captioner
from perception.core.detector import Detector
from perception.core.domain import METADATA_KEY, model_tensors
from perception_training.synthetic.world import SceneWorld

REPO = Path(__file__).resolve().parents[1]
SEED = 61  # held out: no model, calibration or other test uses it
MODELS = {
    "detector": (REPO / "models/detector/yolo11n_synthetic.safetensors", Detector.load),
    "captioner": (REPO / "models/captioner/mnv3_gru_en.safetensors", Captioner.load),
}


def without_statistics(artifact: Path, folder: Path) -> Path:
    """A copy of ``artifact`` with the same network tensors and no domain statistics."""
    tensors, metadata = load_artifact(artifact)
    metadata.pop(METADATA_KEY)
    return save_artifact(folder / artifact.name, model_tensors(tensors), metadata)


def median_ms(run: Callable[[np.ndarray], object], frames: list[np.ndarray]) -> float:
    run(frames[0])
    times = []
    for frame in frames:
        start = time.perf_counter()
        run(frame)
        times.append(time.perf_counter() - start)
    return 1000.0 * statistics.median(times)


def call(model: Detector | Captioner) -> Callable[[np.ndarray], object]:
    """One frame as the node handles it: the model's output, then the frame's domain verdict."""
    if isinstance(model, Detector):
        return lambda frame: (model.detect(frame), model.domain_verdict())
    return lambda frame: (model.caption(frame), model.domain_verdicts())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    world = SceneWorld(SEED)
    frames = [world.scene(i, "test", "mixed").image for i in range(args.frames)]
    print("| model | without statistics [ms] | with statistics [ms] |\n|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for name, (artifact, load) in MODELS.items():
            plain = load(without_statistics(artifact, Path(folder)), device="cpu")
            scored = load(artifact, device="cpu")
            without, with_ = median_ms(call(plain), frames), median_ms(call(scored), frames)
            print(f"| {name} | {without:.1f} | {with_:.1f} |")


if __name__ == "__main__":
    main()
