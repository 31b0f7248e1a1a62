"""The detector node against its bare model: same frames, same model object, same threads.

    python benchmarks/bench_node_vs_model.py [--models detector/yolo11n_synthetic.onnx ...]
        [--threads 1] [--frames 20 --rounds 8] [--out docs/benchmarks/node_vs_model]

Per model file (default: the committed artifact and its ONNX export), one ``DetectorNode`` in
this process (``cpu_threads``, device cpu, its own executor thread) and its loaded model called
directly. Rounds alternate bare, node, bare, node, ...; each sends the same held-out 640x480
synthetic frames: the bare round calls ``detect`` + ``domain_verdict`` on the decoded frame; the
node round publishes the ``sensor_msgs/Image`` and waits for its ``DetectionArray`` before the
next one (so every frame is processed: DDS to the node, decode, inference, domain score, frame
quality check, message, markers, DDS back). Per round: throughput (frames / wall time), median
latency (call, or publish to receive), CPU per frame (this process's user + system time over the
frames: the node's figure includes the helper node that publishes and receives). Writes
``<out>.json`` and ``<out>.md`` (median and min-max over rounds, and of node / bare per pair).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from node_harness import NodeHarness
from rclpy.parameter import Parameter
from report import Report, add_round_arguments, markdown_page, ratios, spread

from perception.core.images import numpy_to_image
from perception.nodes.detector_node import DetectorNode
from perception_msgs.msg import DetectionArray
from perception_training.synthetic.world import SceneWorld

REPO = Path(__file__).resolve().parents[1]
MODELS = ("detector/yolo11n_synthetic.safetensors", "detector/yolo11n_synthetic.onnx")
VARIANTS = ("bare", "node")
METRICS = {
    "throughput [frames/s]": ("fps", 1),
    "latency p50 [ms]": ("latency_ms", 1),
    "CPU per frame [ms]": ("cpu_ms_per_frame", 1),
}


def measure(variant: str, harness: NodeHarness, frames: list, messages: list) -> dict[str, Any]:
    """One round over every frame: wall time, per-frame latency, process CPU."""
    latencies = []
    cpu, start = time.process_time(), time.perf_counter()
    for frame, message in zip(frames, messages, strict=True):
        if variant == "bare":
            began = time.perf_counter()
            harness.node.model.detect(frame, 0.25, 0.45, None)
            harness.node.model.domain_verdict()
            latencies.append(time.perf_counter() - began)
        else:
            latencies.append(harness.send(message))
    wall = time.perf_counter() - start
    return {
        "variant": variant,
        "fps": round(len(frames) / wall, 2),
        "latency_ms": round(1e3 * statistics.median(latencies), 2),
        "cpu_ms_per_frame": round(1e3 * (time.process_time() - cpu) / len(frames), 2),
    }


def bench(model: str, threads: int, frames: list, rounds: int) -> list[dict[str, Any]]:
    overrides = [
        Parameter("model_path", value=model),
        Parameter("device", value="cpu"),
        Parameter("cpu_threads", value=threads),
        Parameter("vision_msgs_output", value=False),
    ]
    harness = NodeHarness(
        lambda context: DetectorNode(context=context, parameter_overrides=overrides),
        DetectionArray,
        "detections",
    )
    messages = [numpy_to_image(frame, "bgr8") for frame in frames]
    try:
        for variant in VARIANTS:  # warm-up, not recorded
            measure(variant, harness, frames[:3], messages[:3])
        runs = []
        for round_index in range(rounds):
            for variant in VARIANTS:
                run = {"model": model, "round": round_index, **measure(variant, harness, frames, messages)}
                print(run, flush=True)
                runs.append(run)
        return runs
    finally:
        harness.close()


def markdown(runs: list[dict[str, Any]], models: Sequence[str], command: str, env: dict[str, Any]) -> str:
    lines = [
        "# Detector node vs its bare model",
        "",
        f"`{command}` (through `scripts/with_env.sh`, `OMP_NUM_THREADS=1`); {env['rounds']} interleaved "
        f"pairs of rounds over the same {env['frames']} frames, {env['threads']} thread(s). Median (min-max) "
        "over rounds, and of node / bare per pair.",
        "",
        "| model | metric | bare model | node | node / bare |",
        "|---|---|---|---|---|",
    ]
    for model in models:
        by_variant = {v: [r for r in runs if r["model"] == model and r["variant"] == v] for v in VARIANTS}
        for label, (key, digits) in METRICS.items():
            bare = [r[key] for r in by_variant["bare"]]
            node = [r[key] for r in by_variant["node"]]
            lines.append(
                f"| {Path(model).name} | {label} | {spread(bare, digits)} | {spread(node, digits)} | "
                f"{spread(ratios(node, bare), 2)} |"
            )
    return markdown_page(lines, env)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--models", nargs="+", default=list(MODELS), help="relative to $PERCEPTION_MODELS_DIR"
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--frames", type=int, default=20)
    add_round_arguments(parser, rounds=8, out=REPO / "docs" / "benchmarks" / "node_vs_model")
    args = parser.parse_args(argv)
    report = Report(__file__, argv, args.out)
    world = SceneWorld(seed=7)
    frames = [world.scene(i, "test", "mixed", size=(640, 480)).image for i in range(args.frames)]
    runs = [run for model in args.models for run in bench(model, args.threads, frames, args.rounds)]
    report.finish(
        runs,
        lambda runs, command, env: markdown(runs, args.models, command, env),
        threads=args.threads,
        frames=args.frames,
        rounds=args.rounds,
        torch_threads=torch.get_num_threads(),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
