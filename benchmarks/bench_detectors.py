"""Latency of two or more detector files, interleaved, as the detector node runs them.

    python benchmarks/bench_detectors.py A.onnx B.safetensors [...] [--imgsz A_SIZE B_SIZE ...]
        [--size 640x480] [--threads 1] [--rounds 12 --calls 15] [--out docs/benchmarks/detectors]

Each variant is a file (``.onnx`` on ONNX Runtime's CPU provider, ``.safetensors`` / ``.pt`` on
torch on the CPU), loaded as detector_node loads it (``load_detector``), at its own network input
size from ``--imgsz`` (one per file, 0 = the model's own, as the node's ``image_size: 0``; a
fixed-shape export keeps its own size). The same file at two sizes is a valid comparison. A call
is ``detect`` + ``domain_verdict`` on one of 6 held-out synthetic frames of ``--size`` (the
frames bench_onnx.py times the detector on, at that size). Threads: ``torch.set_num_threads``
(when a variant runs on torch) and the ONNX session's ``intra_op_num_threads``.

``--rounds`` rounds, each timing ``--calls`` calls of every variant in turn (A, then B, ...),
after 3 warm-up calls each; a round's ratio of a variant is its median call over the first
variant's. Writes ``<out>.json`` (every call) and ``<out>.md`` (per variant: median and min-max
over rounds of the round medians, and of the ratio to the first variant; < 1: faster than it),
and prints the table.
"""

from __future__ import annotations

import argparse
import statistics
import string
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from report import Report, add_round_arguments, markdown_page, onnxruntime_version, ratios, spread, time_calls

from perception.core.detector_api import DetectorModel, load_detector
from perception.core.onnx_session import ONNX_SUFFIX, SessionOptions
from perception_training.synthetic import SceneWorld

REPO = Path(__file__).resolve().parents[1]
FRAMES = 6


def frame_size(text: str) -> tuple[int, int]:
    """``WxH`` -> (width, height)."""
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--size {text!r} is not WIDTHxHEIGHT, e.g. 640x480") from None
    if width < 32 or height < 32:
        raise argparse.ArgumentTypeError(f"--size {text!r}: at least 32x32")
    return width, height


def frames(size: tuple[int, int]) -> list[np.ndarray]:
    """Held-out synthetic frames of ``size`` (width, height): bench_onnx.py's detector frames."""
    world = SceneWorld(seed=5)
    return [world.scene(i, "test", "glass", size=size).image for i in range(FRAMES)]


def uses_torch(path: Path) -> bool:
    return path.suffix.lower() != ONNX_SUFFIX


def load(path: Path, imgsz: int, threads: int) -> DetectorModel:
    """``path`` as detector_node loads it (CPU, ``threads``), at input ``imgsz`` (0: its own)."""
    return load_detector(path, device="cpu", imgsz=imgsz or None, onnx=SessionOptions(threads=threads))


def markdown(runs: list[dict[str, Any]], command: str, env: dict[str, Any]) -> str:
    variants = env["variants"]
    first = variants[0]["label"]
    width, height = env["frame_size"]
    lines = [
        "# Detector latency, interleaved",
        "",
        f"`{command}` (through `scripts/with_env.sh`); {env['rounds']} interleaved rounds of "
        f"{env['calls']} calls per variant, {width}x{height} frames, {env['threads']} thread(s). "
        "A call: `detect` + `domain_verdict`. Per call: median ms of a round, median (min-max) "
        f"over rounds; CPU: process CPU ms per call; ratio: the variant's median / {first}'s, per "
        "round (< 1: faster).",
        "",
        f"| variant | file | model | runtime | imgsz | call [ms] | CPU [ms] | / {first} |",
        "|---|---|---|---|---|---|---|---|",
    ]
    base = [run[first]["median_ms"] for run in runs]
    for variant in variants:
        label = variant["label"]
        medians = [run[label]["median_ms"] for run in runs]
        cpu = [run[label]["cpu_ms_per_call"] for run in runs]
        lines.append(
            f"| {label} | {variant['file']} | {variant['model_id']} | {variant['runtime']} | "
            f"{variant['imgsz']} | {spread(medians)} | {spread(cpu)} | {spread(ratios(medians, base), 2)} |"
        )
    return markdown_page(lines, env)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "files", nargs="+", type=Path, help="detector files (.onnx, .safetensors, .pt); 2 or more"
    )
    parser.add_argument(
        "--imgsz",
        nargs="+",
        type=int,
        help="network input size per file, in order (0: the model's own; default: every model's own)",
    )
    parser.add_argument(
        "--size", type=frame_size, default=(640, 480), help="frame WIDTHxHEIGHT (default 640x480)"
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="CPU threads of torch and ONNX Runtime (default 1)"
    )
    add_round_arguments(parser, rounds=12, calls=15, out=REPO / "docs" / "benchmarks" / "detectors")
    args = parser.parse_args(argv)
    if len(args.files) < 2:
        parser.error("give 2 or more detector files (the same file twice with two --imgsz is fine)")
    if len(args.files) > len(string.ascii_uppercase):
        parser.error(f"at most {len(string.ascii_uppercase)} files")
    sizes = args.imgsz or [0] * len(args.files)
    if len(sizes) != len(args.files):
        parser.error(f"--imgsz takes one size per file: {len(args.files)} files, {len(sizes)} sizes")
    if any(size < 0 for size in sizes):
        parser.error("--imgsz: 0 (the model's own) or a positive size")
    if args.threads < 1 or args.rounds < 1 or args.calls < 1:
        parser.error("--threads, --rounds and --calls must be at least 1")
    for path in args.files:
        if not path.is_file():
            parser.error(f"{path}: no such file")

    report = Report(__file__, argv, args.out)
    torch_version = None
    if any(uses_torch(path) for path in args.files):
        import torch

        torch.set_num_threads(args.threads)
        torch_version = torch.__version__
    data = frames(args.size)
    labels = list(string.ascii_uppercase[: len(args.files)])
    models = {
        label: load(path, size, args.threads)
        for label, path, size in zip(labels, args.files, sizes, strict=True)
    }
    variants = []
    for label, path, size in zip(labels, args.files, sizes, strict=True):
        model = models[label]
        if size and model.imgsz != size:
            print(
                f"note: {label} ({path}) runs at imgsz {model.imgsz}, not {size} (stride, fixed-shape export)"
            )
        variants.append(
            {
                "label": label,
                "file": str(path),
                "model_id": model.model_id,
                "runtime": "onnxruntime" if not uses_torch(path) else "torch",
                "imgsz_requested": size or None,
                "imgsz": model.imgsz,
            }
        )

    def call_of(model: DetectorModel) -> Callable[[int], Any]:
        return lambda i: (model.detect(data[i % len(data)]), model.domain_verdict())

    calls = {label: call_of(model) for label, model in models.items()}
    runs = []
    for round_index in range(args.rounds):
        run: dict[str, Any] = {"round": round_index}
        for label in labels:
            times, cpu = time_calls(calls[label], args.calls)
            run[label] = {
                "median_ms": round(statistics.median(times), 2),
                "cpu_ms_per_call": round(cpu, 2),
                "ms": [round(t, 2) for t in times],
            }
        first = run[labels[0]]["median_ms"]
        run["ratio_to_first"] = {
            label: round(run[label]["median_ms"] / first, 4) for label in labels[1:] if first
        }
        print(round_index, *(f"{label} {run[label]['median_ms']}" for label in labels), flush=True)
        runs.append(run)

    report.finish(
        runs,
        markdown,
        rounds=args.rounds,
        calls=args.calls,
        threads=args.threads,
        frame_size=list(args.size),
        frames=FRAMES,
        variants=variants,
        onnxruntime=onnxruntime_version(),
        torch=torch_version,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
