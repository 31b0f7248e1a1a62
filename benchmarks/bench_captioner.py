"""Benchmark ``Captioner.caption`` on held-out synthetic camera frames (640x480 by default).

    python benchmarks/bench_captioner.py [--artifact models/captioner/mnv3_gru_en.safetensors]
        [--frames 20 --threads 1 --device cpu]

One caption per call, as the caption node makes them: preprocessing, encoder and decoding.
Prints a Markdown table of median / p90 milliseconds per frame for greedy and beam-3 decoding,
each with and without the artifact's grounded words, and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import platform
import resource
import statistics
import time
from pathlib import Path

import torch

from perception.core.captioner import Captioner
from perception_training.synthetic.world import SceneWorld

REPO = Path(__file__).resolve().parents[1]
SEED = 23  # held out: no committed model trained on it


def latencies(captioner: Captioner, frames: list) -> list[float]:
    """Milliseconds per ``caption`` call over ``frames`` after one warm-up call."""
    captioner.caption(frames[0])
    times = []
    for frame in frames:
        start = time.perf_counter()
        captioner.caption(frame)
        times.append((time.perf_counter() - start) * 1e3)
    return sorted(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--artifact", type=Path, default=REPO / "models/captioner/mnv3_gru_en.safetensors")
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--size", default="640x480", help="camera frame WxH")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    width, height = (int(v) for v in args.size.split("x"))
    world = SceneWorld(SEED)
    frames = [world.scene(i, "test", "caption", size=(width, height)).image for i in range(args.frames)]

    print(
        f"`{args.artifact.name}` on {args.device}, {args.threads} torch thread(s), {args.frames} frames "
        f"{width}x{height}, torch {torch.__version__}, {platform.processor() or platform.machine()}\n"
    )
    print("| decoding | grounded | median ms | p90 ms |")
    print("|---|---|---|---|")
    for beam in (1, 3):
        for grounded in (True, False):
            captioner = Captioner.load(args.artifact, device=args.device, beam_size=beam, grounded=grounded)
            times = latencies(captioner, frames)
            name = "greedy" if beam == 1 else f"beam {beam}"
            p90 = times[int(0.9 * (len(times) - 1))]
            print(f"| {name} | {'yes' if grounded else 'no'} | {statistics.median(times):.1f} | {p90:.1f} |")
    print(f"\npeak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
