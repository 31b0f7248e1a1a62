"""The perception graph as one process per node (multi) vs all nodes in one process (single).

    python benchmarks/bench_single_process.py [--frames 60 --repeats 3]
        [--nodes detector,glass,caption,hazard,sign] [--params-file config/jetson.yaml]
        [--out docs/benchmarks/single_process]

Both variants run exactly as ``ros2 launch perception jetson.launch.py [single_process:=true]``
wires them (``perception_training.bags.bag_graph``), with the launch file's Fast DDS profile,
on one held-out synthetic 640x480 camera bag replayed at 10 fps. Variants run interleaved
(multi, single, multi, single, ...) so machine load hits them alike; each pair gives ratios.
Per run:

- memory: the peak over time of the proportional set size (psutil ``memory_full_info().pss``:
  each shared page split among the processes that map it) summed over the graph's processes,
  sampled every 0.2 s, so a library the graph's processes share counts once; also the same for
  the model nodes only (multi: every node but hazard; single: the whole container, hazard
  included), and the unique set size (``uss``: pages only that process maps). The USS sum counts
  a library shared by several of the graph's processes zero times but the single process's
  copy fully, unless some process outside the graph maps it too: it flatters the separate
  processes, and on a busy machine (other pythons with torch loaded) the single process;
- CPU per frame: user + system time of the graph's processes from the replay's start until the
  outputs settled, over the frames replayed;
- latency: wall time from the replay publishing a frame to the recorder receiving the output of
  that frame (same header stamp) on ``detections``, ``glasses`` and ``/caption``; median per run.

Writes ``<out>.json`` (every run) and ``<out>.md`` (median and min-max per variant, and the
median and min-max over pairs of single/multi ratios).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from report import Report, add_round_arguments, spread

from perception.bags.reading import read_messages
from perception_training.bags.bag_graph import PACKAGE_ROOT, GraphRun, run_graph_on_bag
from perception_training.bags.synthetic import write_synthetic_bag

CAMERA = "/camera/image_raw"
OUTPUTS = {"detections": "/perception/detections", "glasses": "/perception/glasses", "caption": "/caption"}
VARIANTS = ("multi", "single")
# Loading five models with `nice -n 15` beside other people's jobs once took over 120 s.
STARTUP_TIMEOUT_S = 600.0
FASTDDS_PROFILE = PACKAGE_ROOT / "config" / "fastdds_large_images.xml"


def stamp_ns(header: Any) -> int:
    return header.stamp.sec * 1_000_000_000 + header.stamp.nanosec


def latencies_ms(bag: Path, run: GraphRun) -> dict[str, float]:
    """Median publish-to-receive time of each output topic, paired with its frame by header stamp."""
    sent = dict(run.replay.sent_ns)
    frame_sent = {stamp_ns(msg.header): sent[t] for _, t, msg in read_messages(bag, [CAMERA]) if t in sent}
    result = {}
    for name, topic in OUTPUTS.items():
        delays = [
            (received - frame_sent[stamp_ns(msg.header)]) / 1e6
            for _, received, msg in read_messages(run.recorded, [topic])
            if stamp_ns(msg.header) in frame_sent
        ]
        result[name] = round(statistics.median(delays), 1) if delays else float("nan")
        result[f"{name}_count"] = len(delays)
    return result


def measure(bag: Path, variant: str, nodes: Sequence[str], params: Path, out: Path) -> dict[str, Any]:
    run = run_graph_on_bag(
        bag,
        out,
        nodes,
        list(OUTPUTS),
        params_file=params,
        single_process=variant == "single",
        measure_uss=True,
        startup_timeout_s=STARTUP_TIMEOUT_S,
    )
    frames = sum(1 for _ in read_messages(bag, [CAMERA]))
    return {
        "variant": variant,
        "total_pss_mib": run.peak_total_pss_mib,
        "model_nodes_pss_mib": model_nodes_mib(run.peak_pss_mib),
        "pss_mib": run.peak_pss_mib,
        "total_uss_mib": run.peak_total_uss_mib,
        "model_nodes_uss_mib": model_nodes_mib(run.peak_uss_mib),
        "uss_mib": run.peak_uss_mib,
        "rss_mib": run.peak_rss_mib,
        "cpu_ms_per_frame": round(1000 * sum(run.cpu_s.values()) / frames, 1),
        "cpu_s": run.cpu_s,
        "latency_ms": latencies_ms(bag, run),
        "frames": frames,
    }


def model_nodes_mib(peaks: dict[str, float]) -> float:
    """The model nodes' share of a per-process memory figure: every process but the hazard node's."""
    return round(sum(mib for name, mib in peaks.items() if name != "hazard_node"), 1)


METRICS = {
    "total proportional memory (PSS) [MiB]": lambda r: r["total_pss_mib"],
    "model nodes' proportional memory [MiB]": lambda r: r["model_nodes_pss_mib"],
    "total unique memory [MiB]": lambda r: r["total_uss_mib"],
    "model nodes' unique memory [MiB]": lambda r: r["model_nodes_uss_mib"],
    "CPU per frame [ms]": lambda r: r["cpu_ms_per_frame"],
    **{f"latency camera -> {name} [ms]": (lambda r, n=name: r["latency_ms"][n]) for name in OUTPUTS},
}


def markdown(runs: list[dict[str, Any]], command: str, env: dict[str, Any]) -> str:
    by_variant = {v: [r for r in runs if r["variant"] == v] for v in VARIANTS}
    pairs = list(zip(by_variant["multi"], by_variant["single"], strict=False))
    lines = [
        "# Multi-process vs single-process graph",
        "",
        f"`{command}` (through `scripts/with_env.sh`, `OMP_NUM_THREADS=1`), {len(pairs)} interleaved pairs;",
        "median (min-max) per variant, and of the single/multi ratio over pairs (< 1: single is lower).",
        "",
        "| metric | multi | single | single / multi |",
        "|---|---|---|---|",
    ]
    for label, get in METRICS.items():
        ratios = [get(s) / get(m) for m, s in pairs if get(m)]
        lines.append(
            f"| {label} | {spread([get(r) for r in by_variant['multi']])} | "
            f"{spread([get(r) for r in by_variant['single']])} | {spread(ratios, 2)} |"
        )
    lines += ["", f"Environment: {json.dumps(env)}", ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3, help="pairs of runs (multi, single)")
    parser.add_argument("--nodes", default="detector,glass,caption,hazard,sign")
    parser.add_argument("--params-file", type=Path, default=PACKAGE_ROOT / "config" / "jetson.yaml")
    add_round_arguments(parser, out=Path("docs/benchmarks/single_process"))
    args = parser.parse_args(argv)
    # As the launch file does: without it best-effort camera frames are lost between processes.
    os.environ.setdefault("FASTDDS_DEFAULT_PROFILES_FILE", str(FASTDDS_PROFILE))
    nodes = [n.strip() for n in args.nodes.split(",")]
    report = Report(__file__, argv, args.out)
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench_single_process_") as tmp:
        root = Path(tmp)
        bag = write_synthetic_bag(root / "bag", args.frames, fps=10, seed=11, split="test", kind="glass")
        for repeat in range(args.repeats):
            for variant in VARIANTS:
                result = measure(bag, variant, nodes, args.params_file, root / f"{variant}_{repeat}")
                print(json.dumps(result), flush=True)
                runs.append(result)
    report.finish(
        runs,
        markdown,
        nodes=nodes,
        params_file=str(args.params_file.resolve().relative_to(PACKAGE_ROOT.parents[2])),
        frames=args.frames,
        fps=10,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
