"""A camera at 30 fps for 60 s into a detector that cannot keep up: this stack's detector node vs
a model-in-callback node with a reliable queue of 10 frames (the common design).

    python benchmarks/bench_overload.py [--model detector/yolo11n_synthetic.safetensors] [--threads 1]
        [--fps 30 --duration 60 --repeats 2] [--out docs/benchmarks/overload]

Each node runs in its own process on the same model file and threads: ``detector_node`` (this
stack: best-effort depth-1 subscription, latest-frame worker, ``max_rate_hz`` 0, domain score,
frame-quality check and markers on every processed frame; /diagnostics every second) or
``benchmarks/callback_detector_node.py`` (decode, detect and publish in the callback). This
process publishes held-out 640x480 bgr8 frames reliably (depth 10) at ``--fps``, stamped with
the wall clock, and records every DetectionArray; latency is its arrival time minus its stamp.
Variants alternate (stack, callback, stack, ...). Per run: frames published and answered,
p50/p95/p99 latency, the drops the node itself reports (stack: /diagnostics ``dropped`` +
``lost_in_transport``; callback: none, it counts nothing), the frames never answered, the node
process's CPU per answered frame, and the stack's own per-frame processing time
(``last_latency_ms``, median of its reports). Writes ``<out>.json`` and ``<out>.md``.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psutil
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from report import Report, add_round_arguments, markdown_page, percentile, ratios, spread
from sensor_msgs.msg import Image

from perception.core.images import numpy_to_image
from perception.nodes.framework.conversions import stamp_seconds
from perception_msgs.msg import DetectionArray
from perception_training.synthetic.world import SceneWorld

REPO = Path(__file__).resolve().parents[1]
FASTDDS_PROFILE = REPO / "ros_ws" / "src" / "perception" / "config" / "fastdds_large_images.xml"
VARIANTS = ("stack", "callback")
STARTUP_TIMEOUT_S = 300.0
DRAIN_S = 10.0  # after the camera stops: time for queued frames to come out


def node_command(variant: str, model: str, threads: int) -> list[str]:
    if variant == "callback":
        return [
            sys.executable,
            str(REPO / "benchmarks" / "callback_detector_node.py"),
            "--model",
            model,
            "--threads",
            str(threads),
        ]
    parameters = {
        "model_path": model,
        "device": "cpu",
        "cpu_threads": threads,
        "image_reliability": "best_effort",
        "image_queue_depth": 1,
        "max_rate_hz": 0.0,
        "diagnostics_period_s": 1.0,
        "vision_msgs_output": False,
    }
    args = [arg for name, value in parameters.items() for arg in ("-p", f"{name}:={value}")]
    return [sys.executable, "-m", "perception.nodes.detector_node", "--ros-args", *args]


class Camera(Node):
    """Publishes frames stamped with the wall clock; records detections and the node's diagnostics."""

    def __init__(self, context: rclpy.Context) -> None:
        super().__init__("bench_camera", context=context)
        self.images = self.create_publisher(
            Image, "image", QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        )
        self.results: list[tuple[float, float]] = []  # (stamp, arrival), wall clock seconds
        self.diagnostics: list[dict[str, str]] = []
        self.create_subscription(
            DetectionArray,
            "detections",
            self._on_result,
            QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE),
        )
        self.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)

    def _on_result(self, msg: DetectionArray) -> None:
        self.results.append((stamp_seconds(msg.header.stamp), time.time()))

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.hardware_id.endswith("/detector_node"):
                self.diagnostics.append({kv.key: kv.value for kv in status.values})

    def publish(self, message: Image) -> float:
        now = time.time()
        message.header.stamp.sec, message.header.stamp.nanosec = int(now), int((now % 1) * 1e9)
        self.images.publish(message)
        return now


def run(
    variant: str, model: str, threads: int, fps: float, duration: float, messages: list[Image]
) -> dict[str, Any]:
    context = rclpy.Context()
    rclpy.init(context=context)
    camera = Camera(context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(camera)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    process = subprocess.Popen(
        node_command(variant, model, threads), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        _wait_until_answering(camera, messages[0], process)
        time.sleep(2.5)  # idle: at least one /diagnostics report to count from
        camera.results.clear()
        before = camera.diagnostics[-1] if camera.diagnostics else {}
        camera.diagnostics.clear()
        cpu_before = _cpu_s(process)
        sent = []
        start = time.perf_counter()
        for index in range(int(duration * fps)):
            delay = start + index / fps - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            sent.append(camera.publish(messages[index % len(messages)]))
        time.sleep(DRAIN_S)
        cpu = _cpu_s(process) - cpu_before
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
        executor.shutdown(timeout_sec=5.0)
        spinner.join(5.0)
        camera.destroy_node()
        rclpy.shutdown(context=context)
    in_run = set(round(s, 6) for s in sent)
    latencies = [(arrival - stamp) * 1e3 for stamp, arrival in camera.results if round(stamp, 6) in in_run]
    last = camera.diagnostics[-1] if camera.diagnostics else {}
    reported = _drops(last) - _drops(before) if last else None
    processing = [float(d["last_latency_ms"]) for d in camera.diagnostics if float(d["last_latency_ms"]) > 0]
    return {
        "variant": variant,
        "published": len(sent),
        "answered": len(latencies),
        "unanswered": len(sent) - len(latencies),
        "reported_drops": reported,
        "p50_ms": round(percentile(latencies, 50), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "cpu_ms_per_answered_frame": round(1e3 * cpu / max(len(latencies), 1), 1),
        "processing_ms": round(statistics.median(processing), 1) if processing else None,
        "last_diagnostics": last,
    }


def _wait_until_answering(camera: Camera, message: Image, process: subprocess.Popen) -> None:
    """Until the node (loading its model) answers a frame: the run starts warm."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not camera.results:
        if process.poll() is not None:
            raise SystemExit(f"the node exited ({process.returncode}): {process.stderr.read()[-3000:]}")
        if time.monotonic() > deadline:
            raise SystemExit("the node did not answer within the startup timeout")
        camera.publish(message)
        time.sleep(0.5)


def _drops(diagnostics: dict[str, str]) -> int:
    """Frames the stack's node says it dropped: replaced in its slot, or lost before reaching it."""
    return int(diagnostics.get("dropped", 0)) + int(diagnostics.get("lost_in_transport", 0))


def _cpu_s(process: subprocess.Popen) -> float:
    times = psutil.Process(process.pid).cpu_times()
    return times.user + times.system


METRICS = {
    "answered frames": ("answered", 0),
    "latency p50 [ms]": ("p50_ms", 1),
    "latency p95 [ms]": ("p95_ms", 1),
    "latency p99 [ms]": ("p99_ms", 1),
    "drops the node reports": ("reported_drops", 0),
    "frames never answered": ("unanswered", 0),
    "node CPU per answered frame [ms]": ("cpu_ms_per_answered_frame", 1),
}


def markdown(runs: list[dict[str, Any]], command: str, env: dict[str, Any]) -> str:
    by_variant = {v: [r for r in runs if r["variant"] == v] for v in VARIANTS}
    lines = [
        f"# Overload: {env['fps']:g} fps for {env['duration_s']:g} s",
        "",
        f"`{command}` (through `scripts/with_env.sh`, `OMP_NUM_THREADS=1`); {len(by_variant['stack'])} "
        f"interleaved pairs, {env['published']} frames published per run. Median (min-max) over runs, and of "
        "stack / callback per pair.",
        "",
        "| metric | this stack (detector_node) | model in callback, reliable depth 10 | stack / callback |",
        "|---|---|---|---|",
    ]
    for label, (key, digits) in METRICS.items():
        stack = [r[key] for r in by_variant["stack"] if r[key] is not None]
        callback = [r[key] for r in by_variant["callback"] if r[key] is not None]
        ratio = spread(ratios(stack, callback), 2) if len(stack) == len(callback) and all(callback) else "-"
        theirs = spread(callback, digits) if callback else "none (not counted)"
        lines.append(f"| {label} | {spread(stack, digits)} | {theirs} | {ratio} |")
    processing = [r["processing_ms"] for r in by_variant["stack"] if r["processing_ms"]]
    lines += [
        "",
        "One frame's processing in the stack's node (its /diagnostics `last_latency_ms`, median per "
        f"run): {spread(processing)} ms.",
    ]
    return markdown_page(lines, env)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--model", default="detector/yolo11n_synthetic.safetensors", help="relative to $PERCEPTION_MODELS_DIR"
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=2, help="pairs of runs (stack, callback)")
    add_round_arguments(parser, out=REPO / "docs" / "benchmarks" / "overload")
    args = parser.parse_args(argv)
    os.environ.setdefault("FASTDDS_DEFAULT_PROFILES_FILE", str(FASTDDS_PROFILE))  # as the launch file does
    model = str(Path(os.environ.get("PERCEPTION_MODELS_DIR", REPO / "models")) / args.model)
    report = Report(__file__, argv, args.out)
    world = SceneWorld(seed=7)
    messages = [
        numpy_to_image(world.scene(i, "test", "mixed", size=(640, 480)).image, "bgr8") for i in range(30)
    ]
    runs = []
    for _ in range(args.repeats):
        for variant in VARIANTS:
            result = run(variant, model, args.threads, args.fps, args.duration, messages)
            print({k: v for k, v in result.items() if k != "last_diagnostics"}, flush=True)
            runs.append(result)
    report.finish(
        runs,
        markdown,
        model=args.model,
        threads=args.threads,
        fps=args.fps,
        duration_s=args.duration,
        published=int(args.fps * args.duration),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
