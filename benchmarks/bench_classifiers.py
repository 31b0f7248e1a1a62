"""Compare image classifiers side by side on the same synthetic glass crops (default 600).

    python benchmarks/bench_classifiers.py [--images 600 --image-size 64 --batch-size 1]
        [--weights mobilenet_v2=models/glass/mobilenet_v2_glass.safetensors]
        [--out docs/benchmarks]

Every architecture runs in a fresh child process so its memory figure is its own: peak RSS
(``ru_maxrss``) minus the RSS after imports and image decoding, i.e. model + activations +
allocator slack. Each image goes through the real inference path
(:class:`perception.core.classifier.Classifier`: BGR->RGB, resize, normalise, forward,
softmax). Latency is per call (one image at ``--batch-size 1``). Accuracy is that of the
weights given with ``--weights`` (our trained artifacts) and otherwise of an untrained,
seeded network (chance level, about 33% for three classes); the table says which.
Writes ``STEM.md`` (table) and ``STEM.png`` (bar charts) into ``--out`` (``--stem classifiers``).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import resource
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np
import psutil
import torch

from perception.core.classifier import Classifier, Preprocessing, build_classifier
from perception_training.classification.readers import read_class_folders
from perception_training.synthetic.writers.glass import write_glass_crops

ARCHITECTURES = ("vgg16", "resnet50", "mobilenet_v2", "vit_small", "deit_small", "swin_tiny")
DEFAULT_DATA = Path(".cache/classification/bench-glass")
DATA_SEED = 1  # not the seed the demo glass artifact was trained on


@dataclass
class Row:
    """One architecture's figures."""

    architecture: str
    weights: str
    image_size: int
    parameters_m: float
    images_per_s: float
    latency_p50_ms: float
    latency_p95_ms: float
    total_s: float
    peak_rss_delta_mib: float
    accuracy: float


def bench_data(root: Path, images: int) -> Path:
    """The benchmark's crops (``bench`` split), written once and reused while the count matches."""
    info = root / "synthetic.json"
    if not (info.is_file() and json.loads(info.read_text())["counts"] == {"bench": images}):
        write_glass_crops(root, seed=DATA_SEED, counts={"bench": images})
    return root / "bench"


def run_one(
    architecture: str, weights: str | None, data: str, image_size: int, batch_size: int, threads: int
) -> Row:
    """Measure one architecture; runs inside a fresh child process."""
    torch.set_num_threads(threads)
    classes, samples = read_class_folders(data)
    crops = [cv2.imread(str(s.path)) for s in samples]
    truth = [classes[s.label] for s in samples]
    baseline = psutil.Process().memory_info().rss
    torch.manual_seed(0)
    if weights:
        classifier = Classifier.load(weights, device="cpu", batch_size=batch_size)
    else:
        model = build_classifier(architecture, len(classes), image_size)
        classifier = Classifier(
            model, classes, Preprocessing(image_size), device="cpu", batch_size=batch_size
        )
    classifier.predict(crops[:batch_size])  # warm-up: first-call allocations and kernel selection
    latencies, predicted = [], []
    started = time.perf_counter()
    for start in range(0, len(crops), batch_size):
        tick = time.perf_counter()
        predicted += [p.class_name for p in classifier.predict(crops[start : start + batch_size])]
        latencies.append((time.perf_counter() - tick) * 1e3)
    total = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    return Row(
        architecture=architecture,
        weights=Path(weights).name if weights else "untrained",
        image_size=classifier.preprocessing.image_size,
        parameters_m=sum(p.numel() for p in classifier.model.parameters()) / 1e6,
        images_per_s=len(crops) / total,
        latency_p50_ms=float(np.percentile(latencies, 50)),
        latency_p95_ms=float(np.percentile(latencies, 95)),
        total_s=total,
        peak_rss_delta_mib=(peak - baseline) / 2**20,
        accuracy=float(np.mean([p == t for p, t in zip(predicted, truth, strict=True)])),
    )


def markdown(rows: list[Row], args: argparse.Namespace, images: int) -> str:
    """The docs page: conditions first, then the table."""
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    lines = [
        "# Classifier comparison",
        "",
        f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by "
        f"`python benchmarks/bench_classifiers.py --stem {args.stem} "
        f"--images {images} --image-size {args.image_size} --batch-size {args.batch_size} "
        f"--threads {args.threads}" + "".join(f" --weights {w}" for w in args.weights) + "`.",
        "",
        f"- Machine: {platform.machine()}, {os.cpu_count()} CPU cores, no GPU, torch {torch.__version__} "
        f"(CUDA build running on the CPU), {args.threads} torch thread(s). The machine is **shared** "
        f"with other jobs (load average at the end: {load}), so absolute times are pessimistic and "
        "noisy; the ranking is what to read.",
        f"- The same {images} synthetic glass crops (seed {DATA_SEED}; cup / beer_glass / soju_glass) "
        "for every model, through the real inference path (`Classifier.predict`: colour conversion, "
        f"resize to {args.image_size} px, normalise, forward, softmax), batch size {args.batch_size}.",
        "- Memory: peak RSS of the model's own child process minus its RSS after imports and image "
        "decoding (model weights + activations + allocator slack).",
        "- Accuracy: of the trained artifact where `weights` names one, else of an untrained seeded "
        "network (chance is about 33%); speed and memory do not depend on the weights.",
        "",
        "| model | weights | input px | params (M) | images/s | latency p50 (ms) | p95 (ms) | "
        f"{images} images (s) | peak RSS delta (MiB) | accuracy |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.architecture} | {r.weights} | {r.image_size} | {r.parameters_m:.1f} "
            f"| {r.images_per_s:.1f} | {r.latency_p50_ms:.1f} | {r.latency_p95_ms:.1f} | {r.total_s:.1f} "
            f"| {r.peak_rss_delta_mib:.0f} | {r.accuracy:.1%} |"
        )
    lines += ["", f"![classifier comparison]({args.stem}.png)", ""]
    return "\n".join(lines)


def chart(rows: list[Row], path: Path) -> None:
    """Bar charts of throughput, latency, memory and parameters, one panel each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r.architecture for r in rows]
    panels = [
        ("images/s (higher is better)", [r.images_per_s for r in rows]),
        ("latency p50, ms", [r.latency_p50_ms for r in rows]),
        ("peak RSS delta, MiB", [r.peak_rss_delta_mib for r in rows]),
        ("parameters, millions", [r.parameters_m for r in rows]),
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(16, 4))
    for ax, (title, values) in zip(axes, panels, strict=True):
        bars = ax.bar(names, values, color="tab:blue")
        ax.bar_label(bars, fmt="%.1f", fontsize=8)
        ax.set_title(title)
        ax.tick_params(axis="x", rotation=45)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=600)
    parser.add_argument("--image-size", type=int, default=64, help="multiple of 32 (swin); default 64")
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads per model (default 1)")
    parser.add_argument("--architectures", nargs="+", default=list(ARCHITECTURES))
    parser.add_argument("--weights", nargs="*", default=[], metavar="ARCH=ARTIFACT", help="trained artifacts")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="where the crops are cached")
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks"))
    parser.add_argument("--stem", default="classifiers", help="file names: STEM.md and STEM.png")
    args = parser.parse_args()
    weights = dict(item.split("=", 1) for item in args.weights)
    data = bench_data(args.data, args.images)
    context = multiprocessing.get_context("spawn")
    rows = []
    for architecture in args.architectures:
        with context.Pool(1) as pool:
            row = pool.apply(
                run_one,
                (
                    architecture,
                    weights.get(architecture),
                    str(data),
                    args.image_size,
                    args.batch_size,
                    args.threads,
                ),
            )
        print(json.dumps(asdict(row)), flush=True)
        rows.append(row)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.stem}.md").write_text(markdown(rows, args, args.images))
    chart(rows, args.out / f"{args.stem}.png")
    print(f"wrote {args.out / args.stem}.md and .png")


if __name__ == "__main__":
    main()
