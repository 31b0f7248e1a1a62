"""Memory of a model node on ONNX Runtime (no torch) vs on PyTorch, each in a fresh process.

    python benchmarks/bench_onnx_memory.py [--repeats 3] [--nodes detector,glass,sign,caption]
        [--out docs/benchmarks/onnx_memory]

For each node in ``NODES`` (detector, glass, sign, caption), a child interpreter builds the node
(its own rclpy context), configures and activates it from the ``.safetensors`` artifact or its
``.onnx`` export (the sign model's exported to a temporary folder from the artifact as git HEAD
has it; the captioner's ``.onnx`` runs with its ``.decoder.onnx``), runs its model on 10 inputs as
the node would (detector: 640x480 frames; glass: 3 crops; sign: 8-frame clips at its crop size;
caption: ``caption`` + ``domain_verdicts`` of 640x480 frames), then reports its peak RSS
(``VmHWM``), its unique set size now (psutil ``uss``: pages no other process shares) and whether
``torch`` was ever imported. Backends alternate (torch, onnx, torch, ...). Writes ``<out>.json``
and ``<out>.md`` (median and min-max per backend, and of the onnx - torch difference per pair).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench_onnx import committed_sign
from report import Report, add_round_arguments, markdown_page, spread

from perception_training.onnx_export.cli import export_onnx

REPO = Path(__file__).resolve().parents[1]
BACKENDS = ("torch", "onnx")


@dataclass(frozen=True)
class NodeUnderTest:
    """One model node as the child process builds and drives it."""

    node: str  # "module:Class" of the lifecycle node
    call: str  # one model call as the node makes it on a random input (Python; names node, rng, np)
    model: str  # the model object whose class the report names (Python expression of node)
    artifact: str | None  # the .safetensors under models/, its export beside it; None: the sign model


NODES = {
    "detector": NodeUnderTest(
        "perception.nodes.detector_node:DetectorNode",
        "node.model.detect(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8))",
        "node.model",
        "detector/yolo11n_synthetic.safetensors",
    ),
    "glass": NodeUnderTest(
        "perception.nodes.glass_node:GlassNode",
        "node.model.classifier.predict([rng.integers(0, 256, (90, 70, 3), dtype=np.uint8)] * 3)",
        "node.model.classifier",
        "glass/mobilenet_v2_glass.safetensors",
    ),
    "sign": NodeUnderTest(
        "perception.nodes.sign_node:SignNode",
        "size = node.model.input_size\n"
        "node.model.recognizer.predict([rng.integers(0, 256, (size, size * 4 // 3, 3), dtype=np.uint8)] * 8)",
        "node.model.recognizer",
        None,
    ),
    "caption": NodeUnderTest(
        "perception.nodes.caption_node:CaptionNode",
        "node.model.captioner.caption(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8))\n"
        "node.model.captioner.domain_verdicts()",
        "node.model.captioner",
        "captioner/mnv3_gru_en.safetensors",
    ),
}

CHILD = """
import importlib, json, sys
import numpy as np
import psutil
import rclpy
from rclpy.parameter import Parameter

def peak_rss_kib():
    # VmHWM, the peak of this process image: ru_maxrss would carry the parent's peak over exec
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))


target, path, call, model = sys.argv[1:5]
module, name = target.split(":")
Node = getattr(importlib.import_module(module), name)
context = rclpy.Context()
rclpy.init(context=context)
overrides = [
    Parameter("model_path", value=path), Parameter("cpu_threads", value=1), Parameter("device", value="cpu")
]
node = Node(context=context, parameter_overrides=overrides)
assert node.autostart()
rng = np.random.default_rng(0)
for _ in range(10):
    exec(call, {"node": node, "rng": rng, "np": np})
report = {
    "peak_rss_mib": peak_rss_kib() / 1024,
    "uss_mib": psutil.Process().memory_full_info().uss / 2**20,
    "torch_imported": "torch" in sys.modules,
    "model": type(eval(model, {"node": node})).__name__,
}
node.trigger_shutdown()
node.destroy_node()
rclpy.shutdown(context=context)
print(json.dumps(report))
"""


def artifacts(kind: str, tmp: Path) -> tuple[Path, Path]:
    """The node's torch artifact and its ONNX export."""
    artifact = NODES[kind].artifact
    if artifact is None:  # the sign model as git HEAD has it, exported here
        sign = committed_sign(tmp)
        return sign, export_onnx(sign, tmp / "sign.onnx")[0]
    path = REPO / "models" / artifact
    return path, path.with_suffix(".onnx")


def measure(kind: str, path: Path) -> dict[str, Any]:
    spec = NODES[kind]
    result = subprocess.run(
        [sys.executable, "-c", CHILD, spec.node, str(path), spec.call, spec.model],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode:
        raise SystemExit(f"{kind} on {path} failed: {result.stderr[-3000:]}")
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return {key: round(value, 1) if isinstance(value, float) else value for key, value in report.items()}


def markdown(runs: list[dict[str, Any]], command: str, env: dict[str, Any]) -> str:
    lines = [
        "# Model node memory: ONNX Runtime vs PyTorch",
        "",
        f"`{command}` (through `scripts/with_env.sh`, `OMP_NUM_THREADS=1`); {env['repeats']} interleaved "
        "pairs of fresh processes per node. Median (min-max) per backend, and of onnx - torch per pair "
        "(negative: ONNX Runtime needs less).",
        "",
        "| node | metric | torch | ONNX Runtime | onnx - torch |",
        "|---|---|---|---|---|",
    ]
    for kind in env["nodes"]:
        rows = {b: [r for r in runs if r["node"] == kind and r["backend"] == b] for b in BACKENDS}
        for key, label in (("peak_rss_mib", "peak RSS [MiB]"), ("uss_mib", "unique memory (USS) [MiB]")):
            torch_values = [r[key] for r in rows["torch"]]
            onnx_values = [r[key] for r in rows["onnx"]]
            saved = [o - t for o, t in zip(onnx_values, torch_values, strict=True)]
            lines.append(
                f"| {kind} | {label} | {spread(torch_values)} | {spread(onnx_values)} | {spread(saved)} |"
            )
        imported = {b: sorted({r["torch_imported"] for r in rows[b]}) for b in BACKENDS}
        lines.append(f"| {kind} | torch imported | {imported['torch']} | {imported['onnx']} | |")
    return markdown_page(lines, env)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--nodes", default=",".join(NODES), help="comma-separated, of " + ", ".join(NODES))
    add_round_arguments(parser, out=REPO / "docs" / "benchmarks" / "onnx_memory")
    args = parser.parse_args(argv)
    kinds = args.nodes.split(",")
    unknown = sorted(set(kinds) - set(NODES))
    if unknown:
        parser.error(f"unknown --nodes {unknown}; choose from {', '.join(NODES)}")
    report = Report(__file__, argv, args.out)
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench_onnx_memory_") as tmp:
        files = {kind: dict(zip(BACKENDS, artifacts(kind, Path(tmp)), strict=True)) for kind in kinds}
        for repeat in range(args.repeats):
            for kind in kinds:
                for backend in BACKENDS:
                    path = files[kind][backend]
                    run = {"node": kind, "backend": backend, "repeat": repeat, **measure(kind, path)}
                    print(run, flush=True)
                    runs.append(run)
    report.finish(runs, markdown, repeats=args.repeats, nodes=kinds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
