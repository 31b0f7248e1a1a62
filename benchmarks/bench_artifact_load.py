"""Time loading the three committed node models (what each model node's configure does).

    python benchmarks/bench_artifact_load.py [--rounds 7 --repeats 5]
        [--baseline DIR]   # a checkout of another commit, e.g. made with
                           # git archive <commit> ros_ws/src/perception models | tar -x -C DIR

Each round runs one fresh process per code version; it loads every model once untimed (imports,
page cache), then ``--repeats`` times timed, on the CPU with one torch thread, and keeps the
fastest (the load least disturbed by other work on a shared machine). Rows: each node's loader
(``Detector.load`` etc., what configure runs) and ``load_artifact`` alone on its file (the part
that reads and verifies the bytes). With ``--baseline`` the rounds alternate the baseline (its
code and its models/) with this checkout, so the noise of a shared machine hits both alike; the
table gives each row's median over rounds per version, the median of the per-round ratios
(this / baseline), their spread (25th-75th percentile, then min-max) and the median per-round
difference in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODELS = {
    "detector": "detector/yolo11n_synthetic.safetensors",
    "glass": "glass/mobilenet_v2_glass.safetensors",
    "caption": "captioner/mnv3_gru_en.safetensors",
}


def measure(root: Path, repeats: int) -> dict[str, float]:
    """Fastest milliseconds of each loader, and of load_artifact, on ``root``/models."""
    import torch

    from perception.core.artifacts import load_artifact
    from perception.core.captioner import Captioner
    from perception.core.classifier import Classifier
    from perception.core.detector import Detector

    torch.set_num_threads(1)
    loaders = {"detector": Detector.load, "glass": Classifier.load, "caption": Captioner.load}
    fastest = {}
    for name, loader in loaders.items():
        path = root / "models" / MODELS[name]
        for row, load in ((name, loader), (f"{name} load_artifact", load_artifact)):
            load(path, device="cpu")
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                load(path, device="cpu")
                times.append((time.perf_counter() - start) * 1e3)
            fastest[row] = min(times)
    return fastest


def run_round(root: Path, repeats: int) -> dict[str, float]:
    """One fresh process importing ``perception`` from ``root``'s sources."""
    env = {**os.environ, "PYTHONPATH": str(root / "ros_ws/src/perception"), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, __file__, "--worker", str(root), "--repeats", str(repeats)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=5, help="timed loads per model per round")
    parser.add_argument("--baseline", type=Path, help="checkout to compare against")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(measure(args.worker, args.repeats)))
        return
    versions = {"baseline": args.baseline, "this": REPO} if args.baseline else {"this": REPO}
    rounds: dict[str, list[dict[str, float]]] = {version: [] for version in versions}
    for _ in range(args.rounds):
        for version, root in versions.items():
            rounds[version].append(run_round(root, args.repeats))
    print(f"{args.rounds} rounds x {args.repeats} loads, CPU, 1 torch thread; ms, median over rounds\n")
    header = " | ".join(versions)
    compare = " | ratio this/baseline | ratio p25-p75 | ratio min-max | added ms" if args.baseline else ""
    print(f"| model (ms) | {header}{compare} |")
    print("|---" * (1 + len(versions) + (4 if args.baseline else 0)) + "|")
    for name in rounds["this"][0]:
        cells = [f"{statistics.median(r[name] for r in rounds[v]):.1f}" for v in versions]
        if args.baseline:
            pairs = list(zip(rounds["baseline"], rounds["this"], strict=True))
            ratios = [this[name] / base[name] for base, this in pairs]
            quartiles = statistics.quantiles(ratios, n=4)
            cells += [
                f"{statistics.median(ratios):.3f}",
                f"{quartiles[0]:.3f}-{quartiles[2]:.3f}",
                f"{min(ratios):.3f}-{max(ratios):.3f}",
                f"{statistics.median(this[name] - base[name] for base, this in pairs):+.1f}",
            ]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
