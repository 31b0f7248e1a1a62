"""ONNX Runtime vs PyTorch per model (detector, glass classifier, sign model, captioner), 1 and 2 threads.

    python benchmarks/bench_onnx.py [--rounds 12 --calls 15] [--models detector,glass,sign,caption]
        [--sign PATH.safetensors] [--out docs/benchmarks/onnx_vs_torch]

Each call is the model's whole public API, as its node makes it, with its domain score: the
detector's ``detect`` + ``domain_verdict`` on a held-out 640x480 synthetic frame; the glass
classifier's ``predict`` + ``domain_verdicts`` on the 3 cup / wine-glass crops of such a frame
(padded by 0.025 as the node does); the sign model's ``predict`` + ``domain_verdict`` on 8
camera frames downscaled to its crop size, as the node keeps them; the captioner's ``caption``
(greedy, grounded: the node's defaults) + ``domain_verdicts`` on a held-out 640x480 caption scene.
Torch loads the ``.safetensors`` artifact, ONNX Runtime its ``.onnx`` export (the committed one,
for the captioner with its ``.decoder.onnx``; the sign model is exported to a temporary folder
from ``--sign``, default the committed artifact as git HEAD has it). Threads:
``torch.set_num_threads`` and the session's ``intra_op_num_threads``. The detector also runs the
way it ran before this stack had its own ONNX path: ultralytics' ``YOLO(...).predict`` on
ultralytics' export of the artifact (fixed 320x320 input, ultralytics' own ONNX Runtime session
with its default threads, no domain score).

Per model and thread count, ``--rounds`` rounds, each timing ``--calls`` calls of torch, then
ONNX Runtime (then ultralytics for the detector), interleaved, after 3 warm-up calls each; a
round's ratio is ONNX's median call over torch's (or ultralytics'). Writes ``<out>.json`` (every
call) and ``<out>.md`` (median and min-max over rounds, and of the ratio; < 1: ONNX Runtime is
faster).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from report import Report, add_round_arguments, markdown_page, onnxruntime_version, ratios, spread, time_calls

from perception.core.caption_onnx import OnnxCaptioner
from perception.core.captioner import Captioner
from perception.core.classifier import Classifier
from perception.core.classifier_onnx import OnnxClassifier
from perception.core.detector import Detector
from perception.core.detector_onnx import OnnxDetector
from perception.core.glass import crop_with_padding
from perception.core.onnx_session import SessionOptions
from perception.core.sign import SignRecognizer
from perception.core.sign_onnx import OnnxSignRecognizer
from perception.core.ultralytics_env import import_ultralytics
from perception.core.video_clips import downscale
from perception_training.detector.export import export_detector
from perception_training.onnx_export.cli import export_onnx
from perception_training.synthetic import SceneWorld

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "models"
DETECTOR = MODELS / "detector" / "yolo11n_synthetic.safetensors"
GLASS = MODELS / "glass" / "mobilenet_v2_glass.safetensors"
SIGN = "models/sign/x3d_xs_sign.safetensors"
CAPTIONER = MODELS / "captioner" / "mnv3_gru_en.safetensors"
MODEL_NAMES = ("detector", "glass", "sign", "caption")
THREADS = (1, 2)
BACKENDS = ("torch", "onnx")
Call = Callable[[int], Any]


def committed_sign(folder: Path) -> Path:
    """The sign artifact as git HEAD has it (the working copy may be mid-retraining)."""
    path = folder / "x3d_xs_sign.safetensors"
    path.write_bytes(
        subprocess.run(["git", "show", f"HEAD:{SIGN}"], cwd=REPO, capture_output=True, check=True).stdout
    )
    return path


def inputs() -> tuple[list[np.ndarray], list[list[np.ndarray]], list[list[np.ndarray]], list[np.ndarray]]:
    """Frames for the detector, crops per frame for the glass classifier, clips for the sign model,
    caption scenes for the captioner."""
    world = SceneWorld(seed=5)
    scenes = [world.scene(i, "test", "glass", size=(640, 480)) for i in range(6)]
    frames = [scene.image for scene in scenes]
    crops = [
        [
            crop_with_padding(scene.image, obj.box, 0.025)
            for obj in scene.objects
            if obj.class_name in ("cup", "wine glass")
        ][:3]
        for scene in scenes
    ]
    clips = [[downscale(frames[(i + k) % len(frames)], 64) for k in range(8)] for i in range(len(frames))]
    captioned = [world.scene(i, "test", "caption", size=(640, 480)).image for i in range(6)]
    return frames, [c for c in crops if c], clips, captioned


def calls(models: dict[str, Any], data: tuple) -> dict[str, Call]:
    """One call of each model's API on input ``i``, with its domain score, as its node makes it."""
    frames, crops, clips, captioned = data
    return {
        "detector": lambda i: (
            models["detector"].detect(frames[i % len(frames)]),
            models["detector"].domain_verdict(),
        ),
        "glass": lambda i: (
            models["glass"].predict(crops[i % len(crops)]),
            models["glass"].domain_verdicts(),
        ),
        "sign": lambda i: (models["sign"].predict(clips[i % len(clips)]), models["sign"].domain_verdict()),
        "caption": lambda i: (
            models["caption"].caption(captioned[i % len(captioned)]),
            models["caption"].domain_verdicts(),
        ),
    }


def ultralytics_call(export: Path, frames: list[np.ndarray]) -> Call:
    """The detector as ultralytics runs its own ONNX export (how ``.onnx`` ran here before)."""
    yolo = import_ultralytics().YOLO(str(export), task="detect")
    return lambda i: yolo.predict(frames[i % len(frames)], imgsz=320, device="cpu", verbose=False)


def load(
    backend: str, threads: int, names: Sequence[str], sign: Path | None, sign_onnx: Path | None
) -> dict[str, Any]:
    """The models ``names`` on ``backend``."""
    options = SessionOptions(threads=threads)
    loaders: dict[str, Callable[[], Any]] = (
        {
            "detector": lambda: Detector.load(DETECTOR, device="cpu"),
            "glass": lambda: Classifier.load(GLASS, device="cpu"),
            "sign": lambda: SignRecognizer.load(sign, device="cpu"),
            "caption": lambda: Captioner.load(CAPTIONER, device="cpu"),
        }
        if backend == "torch"
        else {
            "detector": lambda: OnnxDetector.load(DETECTOR.with_suffix(".onnx"), options),
            "glass": lambda: OnnxClassifier.load(GLASS.with_suffix(".onnx"), options),
            "sign": lambda: OnnxSignRecognizer.load(sign_onnx, options),
            "caption": lambda: OnnxCaptioner.load(CAPTIONER.with_suffix(".onnx"), options),
        }
    )
    return {name: loaders[name]() for name in names}


def markdown(runs: list[dict[str, Any]], command: str, env: dict[str, Any]) -> str:
    lines = [
        "# ONNX Runtime vs PyTorch, per model",
        "",
        f"`{command}` (through `scripts/with_env.sh`); {env['rounds']} interleaved rounds of "
        f"{env['calls']} calls per model and thread count. Per call: median ms of a round, median "
        "(min-max) over rounds; CPU: process CPU ms per call; ratio: ONNX / torch per round (< 1: "
        "ONNX Runtime faster).",
        "",
        "| model | threads | torch [ms] | ONNX Runtime [ms] | ONNX / torch | torch CPU [ms] "
        "| ONNX CPU [ms] | ultralytics ONNX [ms] | ONNX / ultralytics ONNX |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for model in env["models"]:
        for threads in THREADS:
            rows = [r for r in runs if r["model"] == model and r["threads"] == threads]
            got = {b: [r[b]["median_ms"] for r in rows if b in r] for b in (*BACKENDS, "ultralytics")}
            cpu = {b: [r[b]["cpu_ms_per_call"] for r in rows] for b in BACKENDS}
            theirs = ratios(got["onnx"], got["ultralytics"]) if got["ultralytics"] else []
            lines.append(
                f"| {model} | {threads} | {spread(got['torch'])} | {spread(got['onnx'])} | "
                f"{spread(ratios(got['onnx'], got['torch']), 2)} | {spread(cpu['torch'])} | "
                f"{spread(cpu['onnx'])} | {spread(got['ultralytics'])} | {spread(theirs, 2)} |"
            )
    return markdown_page(lines, env)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_round_arguments(parser, rounds=12, calls=15)
    parser.add_argument(
        "--models", default=",".join(MODEL_NAMES), help="comma-separated, of " + ", ".join(MODEL_NAMES)
    )
    parser.add_argument("--sign", type=Path, help="sign artifact (default: the committed one at git HEAD)")
    add_round_arguments(parser, out=REPO / "docs" / "benchmarks" / "onnx_vs_torch")
    args = parser.parse_args(argv)
    names = args.models.split(",")
    unknown = sorted(set(names) - set(MODEL_NAMES))
    if unknown:
        parser.error(f"unknown --models {unknown}; choose from {', '.join(MODEL_NAMES)}")
    report = Report(__file__, argv, args.out)
    data = inputs()
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench_onnx_") as tmp:
        sign = sign_onnx = None
        if "sign" in names:
            sign = args.sign or committed_sign(Path(tmp))
            sign_onnx, _ = export_onnx(sign, Path(tmp) / "sign.onnx")
        if "detector" in names:
            ultralytics_onnx = export_detector(DETECTOR, Path(tmp) / "ultralytics", formats=("onnx",))["onnx"]
        for threads in THREADS:
            torch.set_num_threads(threads)
            loaded = {
                backend: calls(load(backend, threads, names, sign, sign_onnx), data) for backend in BACKENDS
            }
            if "detector" in names:
                loaded["ultralytics"] = {"detector": ultralytics_call(ultralytics_onnx, data[0])}
            for model in names:
                for round_index in range(args.rounds):
                    run: dict[str, Any] = {"model": model, "threads": threads, "round": round_index}
                    for backend in (*BACKENDS, "ultralytics") if model == "detector" else BACKENDS:
                        times, cpu = time_calls(loaded[backend][model], args.calls)
                        run[backend] = {
                            "median_ms": round(statistics.median(times), 2),
                            "cpu_ms_per_call": round(cpu, 2),
                            "ms": [round(t, 2) for t in times],
                        }
                    print(model, threads, run["torch"]["median_ms"], run["onnx"]["median_ms"], flush=True)
                    runs.append(run)
    report.finish(
        runs,
        markdown,
        rounds=args.rounds,
        calls=args.calls,
        models=names,
        torch=torch.__version__,
        onnxruntime=onnxruntime_version(),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
