"""``python -m perception_training.sign.stream_eval``: a sign model on a continuous stream, offline.

    python -m perception_training.sign.stream_eval --artifact models/sign/x3d_xs_sign.safetensors \
        --seed 51 --seconds 60 --size 640x480

Renders the continuous-signing video a sign bag of that seed holds (``write_synthetic_sign_bag``:
split ``test``, one video, pauses of ``--gaps`` seconds) and cuts it into clips exactly as
``sign_node`` does: the node's ``ClipBuffer`` sampling frames by stamp, the node's
``downscale``, a clip every ``--stride`` seconds, the same ``SignRecognizer`` and the same
publish rule (``confident_word``). Only DDS is left out, so a threshold or a model can be judged
in seconds instead of a real-time replay. Scored like the end-to-end test
(``bag_score.score_sign_bag``), once per ``--min_score`` given: calibrate the threshold on a seed
the end-to-end test does not use.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import matplotlib
import numpy as np
from tqdm import tqdm

matplotlib.use("Agg")  # no display on CI; must precede pyplot
import matplotlib.pyplot as plt

from perception.core.sign import SignRecognizer, confident_word
from perception.core.video_models import downscale
from perception.nodes.framework.clip_buffer import ClipBuffer, ClipTiming
from perception_training.engine.flags import parse_sizes
from perception_training.sign.bag_score import SignBagScore, Span, score_sign_bag
from perception_training.synthetic.signing_video import continuous_video

DEFAULT_GAPS = (1.5, 3.0)  # the end-to-end test's pauses


@dataclass(frozen=True)
class StreamClip:
    """One clip the node would run: its stamp span and the model's class probabilities."""

    start_s: float
    end_s: float
    probabilities: np.ndarray


def stream_clips(
    recognizer: SignRecognizer,
    frames: Sequence[np.ndarray] | np.ndarray,
    fps: float,
    stride_s: float,
    max_gap_s: float = 0.5,
) -> list[StreamClip]:
    """Every clip ``sign_node`` runs on ``frames`` (BGR, stamped ``i / fps``), with its probabilities."""
    frames_per_clip = recognizer.spec.num_frames
    timing = ClipTiming(
        sample_rate_hz=max(frames_per_clip - 1, 1) / recognizer.clip_duration,
        clip_duration_s=recognizer.clip_duration,
        stride_s=stride_s,
        max_gap_s=max_gap_s,
    )
    buffer, size, clips = ClipBuffer(timing), recognizer.spec.crop_size, []
    for index, frame in enumerate(tqdm(frames, desc="stream", unit="frame", leave=False, disable=None)):
        clip = buffer.add(index / fps, index, lambda frame=frame: downscale(frame, size))
        if clip is not None:
            probabilities = recognizer.predict(clip.pixels)
            clips.append(StreamClip(clip.first.stamp_s, clip.last.stamp_s, probabilities))
    return clips


def published(
    recognizer: SignRecognizer, clips: Sequence[StreamClip], min_score: float, background: str
) -> list[Span]:
    """The words the node would publish for ``clips`` at threshold ``min_score``."""
    spans = []
    for clip in clips:
        best = confident_word(recognizer.top_k(clip.probabilities, 1), background, min_score)
        if best is not None:
            spans.append(Span(best.word, clip.start_s, clip.end_s))
    return spans


def evaluate_stream(
    recognizer: SignRecognizer,
    seed: int,
    seconds: float,
    size: tuple[int, int],
    fps: float,
    gaps: tuple[float, float],
    stride_s: float,
    min_scores: Sequence[float],
    background: str,
) -> dict[float, SignBagScore]:
    """Score per threshold on the stream ``write_synthetic_sign_bag(seed=seed, ...)`` would hold."""
    count = int(seconds * fps)
    video = continuous_video(seed, count, fps, size, gaps)
    truth = [Span(w.word, w.start_s, w.end_s) for w in video.words if w.end_s <= (count - 1) / fps]
    clips = stream_clips(recognizer, (video.frame(i) for i in range(count)), fps, stride_s)
    clip_s = recognizer.clip_duration
    return {
        threshold: score_sign_bag(
            truth, published(recognizer, clips, threshold, background), 0.0, clip_s, stride_s
        )
        for threshold in min_scores
    }


def total(scores: Sequence[SignBagScore]) -> SignBagScore:
    """Several streams' scores as one (counts summed)."""
    return SignBagScore(
        segments=sum(s.segments for s in scores),
        recognised=sum(s.recognised for s in scores),
        idle_clips=sum(s.idle_clips for s in scores),
        idle_words=sum(s.idle_words for s in scores),
        missed=tuple(m for s in scores for m in s.missed),
        wrong_words=sum(s.wrong_words for s in scores),
    )


def summary(score: SignBagScore) -> str:
    return (
        f"{score.recognised}/{score.segments} words ({score.segment_accuracy:.1%}), "
        f"{score.idle_words}/{score.idle_clips} idle clips with a word ({score.idle_word_rate:.1%}), "
        f"{score.wrong_words} wrong words over signs"
    )


def plot_per_stream(per_seed: dict[int, SignBagScore], path: Path, title: str) -> Path:
    """Bar chart: the share of words recognised on each stream (one signer each)."""
    figure, axes = plt.subplots(figsize=(max(4.0, 0.5 * len(per_seed) + 2), 3))
    axes.bar([str(seed) for seed in per_seed], [s.segment_accuracy for s in per_seed.values()])
    axes.axhline(0.9, color="red", linestyle="--", linewidth=1, label="target 0.9")
    axes.set(xlabel="stream (world seed)", ylabel="words recognised", ylim=(0, 1.05), title=title)
    axes.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m perception_training.sign.stream_eval", description=__doc__
    )
    parser.add_argument("--artifact", type=Path, default=Path("models/sign/x3d_xs_sign.safetensors"))
    parser.add_argument(
        "--seed", type=int, nargs="+", required=True, help="world seeds of the streams, one signer each"
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each stream")
    parser.add_argument("--size", default="640x480", help="WIDTHxHEIGHT of the camera")
    parser.add_argument("--fps", type=float, default=15.0)
    parser.add_argument(
        "--gaps", type=float, nargs=2, default=DEFAULT_GAPS, help="pause range between signs [s]"
    )
    parser.add_argument("--stride", type=float, default=0.25, help="sign_node's stride_s")
    parser.add_argument("--min_score", type=float, nargs="+", default=[0.6], help="thresholds to score")
    parser.add_argument("--background", default="_idle_", help="sign_node's background_class")
    parser.add_argument("--json", type=Path, help="also write the scores here")
    parser.add_argument("--plot", type=Path, help="also draw words recognised per stream (first threshold)")
    args = parser.parse_args(argv)
    recognizer = SignRecognizer.load(args.artifact, device="cpu")
    size = parse_sizes(args.size, "--size")[0]
    per_seed = {
        seed: evaluate_stream(
            recognizer,
            seed,
            args.seconds,
            size,
            args.fps,
            tuple(args.gaps),
            args.stride,
            args.min_score,
            args.background,
        )
        for seed in args.seed
    }
    rows = []
    for seed, scores in per_seed.items():
        for threshold, score in scores.items():
            print(f"seed {seed}, min_score {threshold:.2f}: {summary(score)}")
            rows.append({"seed": seed, "min_score": threshold, **_counts(score)})
    for threshold in args.min_score:
        combined = total([scores[threshold] for scores in per_seed.values()])
        print(f"all {len(per_seed)} streams, min_score {threshold:.2f}: {summary(combined)}")
        rows.append({"seed": "all", "min_score": threshold, **_counts(combined)})
    if args.json:
        args.json.write_text(json.dumps({"artifact": str(args.artifact), "scores": rows}, indent=2) + "\n")
    if args.plot:
        first = args.min_score[0]
        title = f"{args.artifact.name}, min_score {first}, {args.size}"
        plot_per_stream({seed: scores[first] for seed, scores in per_seed.items()}, args.plot, title)
    return 0


def _counts(score: SignBagScore) -> dict[str, int]:
    return {k: v for k, v in asdict(score).items() if k not in ("missed", "published")}


if __name__ == "__main__":
    raise SystemExit(main())
