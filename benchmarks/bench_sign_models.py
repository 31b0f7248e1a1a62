"""Compare a sign model's fp32 artifact, TorchScript export and INT8 export on the same clips.

    python benchmarks/bench_sign_models.py --artifact models/sign/x3d_xs_sign.safetensors
        [--data AIHUB_VAL_ROOT | --videos 8] [--rounds 3 --threads 1]

Exports default to ``<artifact stem>_mobile.ptl`` and ``<artifact stem>_int8.pt`` beside the
artifact (``perception-train sign --export_mobile_model --quantize_model`` writes them, or
``python -m perception_training.sign.export --artifact A``). Without
``--data`` a held-out synthetic AIHub set (seed 23) is written to a temporary folder. Every clip
is decoded once; then each round runs every clip through the variants in turn (A B C A B C ...),
so machine load hits them alike. Prints a Markdown table: size on disk, CPU latency per clip
(median and p10-p90, preprocessing included, as ``SignRecognizer.predict`` does it), accuracy
over the labelled segments and agreement with the fp32 prediction.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from perception.core.sign import SignRecognizer
from perception.core.video_models import frames_to_video
from perception_training.sign.aihub import SignSegment, read_aihub
from perception_training.sign.data import clip_window, read_frames
from perception_training.sign.export import int8_path, mobile_path
from perception_training.synthetic.signing import write_aihub_dataset

SEED = 23  # held out: no committed model trained on it


def load_clips(segments: list[SignSegment], clip_duration: float, size: int) -> list[torch.Tensor]:
    """Each segment's frames as a ``(T, 3, H, W)`` uint8 clip shrunk as the node does, decoded up front."""
    return [
        frames_to_video(read_frames(s.video, *clip_window(s, clip_duration), size)[0]) for s in segments
    ]


def run(
    variants: dict[str, SignRecognizer], clips: list[torch.Tensor], rounds: int
) -> tuple[dict[str, list[float]], dict[str, list[int]]]:
    """Milliseconds per clip and the first round's predicted class ids, per variant, interleaved."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    predictions: dict[str, list[int]] = {name: [] for name in variants}
    for recognizer in variants.values():  # warm-up
        recognizer.predict_video(clips[0])
    for round_number in range(rounds):
        for clip in clips:
            for name, recognizer in variants.items():
                start = time.perf_counter()
                probabilities = recognizer.predict_video(clip)
                times[name].append((time.perf_counter() - start) * 1e3)
                if round_number == 0:
                    predictions[name].append(int(probabilities.argmax()))
    return times, predictions


def markdown(
    files: dict[str, Path],
    times: dict[str, list[float]],
    predictions: dict[str, list[int]],
    labels: list[int],
) -> str:
    rows = [
        "| variant | file | MB | median ms | p10-p90 ms | accuracy | same as fp32 |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    reference = np.array(predictions["fp32"])
    for name, path in files.items():
        ordered = sorted(times[name])
        p10, p90 = (ordered[int(q * (len(ordered) - 1))] for q in (0.1, 0.9))
        predicted = np.array(predictions[name])
        rows.append(
            f"| {name} | `{path.name}` | {path.stat().st_size / 1e6:.1f} | {statistics.median(ordered):.1f} "
            f"| {p10:.1f}-{p90:.1f} | {np.mean(predicted == np.array(labels)):.3f} "
            f"| {np.mean(predicted == reference):.3f} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--artifact", type=Path, default=Path("models/sign/x3d_xs_sign.safetensors"))
    parser.add_argument("--torchscript", type=Path, help="default: <artifact stem>_mobile.ptl")
    parser.add_argument("--int8", type=Path, help="default: <artifact stem>_int8.pt")
    parser.add_argument("--data", type=Path, help="AIHub-format folder (default: synthetic, seed 23)")
    parser.add_argument("--videos", type=int, default=8, help="synthetic videos when --data is not given")
    parser.add_argument("--clip_duration", type=float, default=0.0, help="seconds a clip; 0: the artifact's")
    parser.add_argument("--max_clips", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    files = {
        "fp32": args.artifact,
        "torchscript": args.torchscript or mobile_path(args.artifact),
        "int8": args.int8 or int8_path(args.artifact),
    }
    variants = {name: SignRecognizer.load(path, device="cpu") for name, path in files.items()}
    fp32 = variants["fp32"]
    with tempfile.TemporaryDirectory() as scratch:
        root = args.data or write_aihub_dataset(Path(scratch) / "bench", seed=SEED, videos=args.videos)
        segments = [s for s in read_aihub(root).segments if s.word in fp32.classes][: args.max_clips]
        clips = load_clips(segments, args.clip_duration or fp32.clip_duration, fp32.spec.crop_size)
    labels = [fp32.classes.index(s.word) for s in segments]
    times, predictions = run(variants, clips, args.rounds)
    spec = fp32.spec
    print(
        f"`{args.artifact.name}` ({spec.name}, {spec.num_frames}x{spec.crop_size}px), {len(clips)} clips x "
        f"{args.rounds} rounds, {args.threads} torch thread(s), torch {torch.__version__}, "
        f"{platform.processor() or platform.machine()}\n"
    )
    print(markdown(files, times, predictions, labels))


if __name__ == "__main__":
    main()
