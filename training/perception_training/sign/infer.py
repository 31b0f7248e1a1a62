"""``perception-sign infer``: the sign word of a video clip, or of every sliding clip, as JSON.

``--checkpoint`` takes the node artifact (``.safetensors``), a Lightning checkpoint (``.ckpt``,
read with ``weights_only=True``) or our TorchScript export (``.pt`` / ``.ptl``).
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from perception.core.devices import resolve_device
from perception.core.sign import SignRecognizer
from perception.core.video_models import frames_to_video
from perception_training.sign.data import read_frames
from perception_training.sign.module import model_from_checkpoint


def load_recognizer(path: Path, device: str = "auto") -> SignRecognizer:
    """A SignRecognizer from any of the three model files."""
    if path.suffix == ".ckpt":
        resolved = resolve_device(device)
        model, metadata = model_from_checkpoint(str(path), resolved)
        return SignRecognizer(model, metadata, resolved)
    return SignRecognizer.load(path, device)


def clip_starts(duration: float, clip_duration: float, stride: float) -> list[float]:
    """Start times of sliding clips that fit in ``duration`` (at least the one at 0 s)."""
    if stride <= 0:
        raise ValueError(f"stride must be > 0, got {stride}")
    last = max(duration - clip_duration, 0.0)
    return [round(float(t), 6) for t in np.arange(0.0, last + 1e-6, stride)]


def classify_clip(
    recognizer: SignRecognizer,
    frames: np.ndarray,
    times: np.ndarray,
    video_path: Path,
    start: float,
    clip_duration: float,
    with_probabilities: bool,
) -> dict[str, Any]:
    """The reference project's record of one clip ``[start, start + clip_duration)``."""
    inside = (times >= start) & (times < start + clip_duration)
    picked = frames[inside] if inside.any() else frames[np.abs(times - start).argmin()][None]
    probabilities = recognizer.predict_video(frames_to_video(picked))
    best = int(probabilities.argmax())
    record: dict[str, Any] = {
        "video_path": str(video_path),
        "start_time": start,
        "end_time": round(min(start + clip_duration, float(times[-1]) + _frame_gap(times)), 6),
        "predicted_class_idx": best,
        "predicted_class_name": recognizer.classes[best],
        "predicted_gloss": recognizer.glosses[best],
        "confidence": float(probabilities[best]),
        "clip_duration": clip_duration,
    }
    if with_probabilities:
        record["probabilities"] = {
            name: float(p) for name, p in zip(recognizer.classes, probabilities, strict=True)
        }
    return record


def _frame_gap(times: np.ndarray) -> float:
    return float(np.median(np.diff(times))) if len(times) > 1 else 0.0


def infer(
    recognizer: SignRecognizer,
    video_path: Path,
    clip_duration: float,
    multiple_clips: bool = False,
    stride: float = 1.0,
    start_time: float = 0.0,
    with_probabilities: bool = False,
) -> dict[str, Any] | list[dict[str, Any]]:
    """One record for the clip at ``start_time``, or a list over sliding clips of the whole video."""
    if multiple_clips:
        frames, times = read_frames(video_path)
        duration = float(times[-1]) + _frame_gap(times)
        return [
            classify_clip(recognizer, frames, times, video_path, start, clip_duration, with_probabilities)
            for start in clip_starts(duration, clip_duration, stride)
        ]
    frames, times = read_frames(video_path, start_time, start_time + clip_duration)
    return classify_clip(recognizer, frames, times, video_path, start_time, clip_duration, with_probabilities)


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("infer", help="classify a video's clip(s) and write JSON")
    run.add_argument("--checkpoint", type=Path, required=True, help=".safetensors, .ckpt, .pt or .ptl")
    run.add_argument("--video_path", type=Path, required=True)
    run.add_argument("--clip_duration", type=float, default=2.0, help="seconds per clip")
    run.add_argument("--start_time", type=float, default=0.0, help="single clip: where it starts")
    run.add_argument("--multiple_clips", action="store_true", help="slide over the whole video")
    run.add_argument("--stride", type=float, default=1.0, help="seconds between sliding clips")
    run.add_argument("--return_probabilities", action="store_true", help="add every class's probability")
    run.add_argument("--output_path", type=Path, help="JSON file (default: print)")
    run.add_argument("--device", default="auto")
    return parser


def main(argv: Sequence[str] | None = None, prog: str = "perception-sign") -> int:
    args = build_parser(prog).parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    result = infer(
        load_recognizer(args.checkpoint, args.device),
        args.video_path,
        args.clip_duration,
        args.multiple_clips,
        args.stride,
        args.start_time,
        args.return_probabilities,
    )
    text = json.dumps(result, indent=2, ensure_ascii=False)
    if args.output_path:
        args.output_path.parent.mkdir(parents=True, exist_ok=True)
        args.output_path.write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
