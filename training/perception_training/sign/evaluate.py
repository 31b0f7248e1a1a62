"""``python -m perception_training.sign.evaluate``: a sign model's figures on a held-out set.

    python -m perception_training.sign.evaluate --artifact models/sign/x3d_xs_sign.safetensors \
        --seed 31 --videos 60 --output_dir docs/sign

Writes a synthetic AIHub set at ``--seed`` (one no training, validation or tuning used; sizes
and pauses as the shipped model's training set) to a temporary folder, or reads ``--data``.
Classifies every labelled word segment and every idle gap (each video's unlabelled spans of at
least ``--idle_min_gap`` seconds, and at least one clip long), one clip each: the model's
``clip_duration`` centred on it, frames shrunk as the sign node shrinks them. Prints the
per-class table, the accuracy over the word segments and the idle false-word rate (the share
of idle clips named as a word); writes ``heldout_per_class.csv`` and
``heldout_confusion_matrix.png`` to ``--output_dir``.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from perception.core.sign import IDLE_CLASS, IDLE_GLOSS, SignRecognizer
from perception.core.video_models import frames_to_video
from perception_training.engine.flags import parse_sizes
from perception_training.engine.plots import confusion_png
from perception_training.engine.tables import markdown_table, write_rows
from perception_training.sign.aihub import SignSegment, read_aihub
from perception_training.sign.data import clip_window, read_frames, with_idle
from perception_training.synthetic.signing import GAP_SECONDS, write_aihub_dataset

# The shipped model's training set looks like this (docs/sign.md); held-out sets should too.
SIZES, MAX_GAP_S = "160x120,320x240,640x480", 2.5
COLUMNS = ("class", "gloss", "clips", "correct", "accuracy")  # of the per-class table and CSV


@dataclass(frozen=True)
class ClassRow:
    """One line of the per-class table: how many clips of ``word`` were named correctly."""

    word: str
    gloss: str
    clips: int
    correct: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.clips if self.clips else float("nan")


def classify(recognizer: SignRecognizer, segments: Sequence[SignSegment]) -> np.ndarray:
    """``(N, C)`` class probabilities, one clip per segment: the node's clip length centred on it."""
    clip_s, size = recognizer.clip_duration, recognizer.spec.crop_size
    return np.stack(
        [
            recognizer.predict_video(frames_to_video(read_frames(s.video, *clip_window(s, clip_s), size)[0]))
            for s in segments
        ]
    )


def per_class(
    predicted: np.ndarray, words: Sequence[str], classes: Sequence[str], glosses: Sequence[str]
) -> list[ClassRow]:
    """A row per class of the model, then one for idle clips when the model has no idle class."""
    truth = np.asarray(words)
    named = np.asarray(classes)[predicted]
    rows = [
        ClassRow(word, gloss, int((truth == word).sum()), int(((truth == word) & (named == word)).sum()))
        for word, gloss in zip(classes, glosses, strict=True)
    ]
    if IDLE_CLASS not in classes and (truth == IDLE_CLASS).any():
        rows.append(ClassRow(IDLE_CLASS, IDLE_GLOSS, int((truth == IDLE_CLASS).sum()), 0))
    return rows


def word_accuracy(predicted: np.ndarray, words: Sequence[str], classes: Sequence[str]) -> float:
    """The share of word segments (idle clips left out) named as their own word."""
    truth = np.asarray(words)
    is_word = truth != IDLE_CLASS
    return float((np.asarray(classes)[predicted][is_word] == truth[is_word]).mean())


def idle_false_word_rate(predicted: np.ndarray, words: Sequence[str], classes: Sequence[str]) -> float:
    """The share of idle clips named as a word (every one, for a model without an idle class)."""
    is_idle = np.asarray(words) == IDLE_CLASS
    if not is_idle.any():
        return float("nan")
    return float((np.asarray(classes)[predicted][is_idle] != IDLE_CLASS).mean())


def markdown(rows: Sequence[ClassRow]) -> str:
    cells = [[r.word, r.gloss, r.clips, r.correct, f"{r.accuracy:.3f}"] for r in rows]
    return "\n".join(markdown_table(COLUMNS, cells, right=COLUMNS[2:]))


def write_csv(rows: Sequence[ClassRow], path: Path) -> Path:
    cells = [(r.word, r.gloss, r.clips, r.correct, f"{r.accuracy:.4f}") for r in rows]
    write_rows(path, [dict(zip(COLUMNS, row, strict=True)) for row in cells], COLUMNS)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifact", type=Path, required=True, help=".safetensors, .pt or .ptl")
    parser.add_argument("--data", type=Path, help="AIHub-format folder (default: synthetic at --seed)")
    parser.add_argument("--seed", type=int, default=31, help="synthetic world seed: keep it held out")
    parser.add_argument("--videos", type=int, default=60, help="synthetic videos")
    parser.add_argument("--sizes", default=SIZES, help="synthetic video sizes WxH[,WxH...], in turn")
    parser.add_argument("--max_gap", type=float, default=MAX_GAP_S, help="synthetic: longest pause [s]")
    parser.add_argument(
        "--idle_min_gap", type=float, default=0.5, help="seconds a gap needs to be an idle clip"
    )
    parser.add_argument("--output_dir", type=Path, default=Path("docs/sign"))
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    recognizer = SignRecognizer.load(args.artifact, device="cpu")
    with tempfile.TemporaryDirectory() as scratch:
        root = args.data or write_aihub_dataset(
            Path(scratch) / "heldout",
            seed=args.seed,
            videos=args.videos,
            size=parse_sizes(args.sizes, "--sizes"),
            gaps=(GAP_SECONDS[0], args.max_gap),
            workers=2,
        )
        index = read_aihub(root)
        known = [s for s in index.segments if s.word in recognizer.classes]
        min_gap = max(args.idle_min_gap, recognizer.clip_duration)
        gaps = with_idle(index, min_gap, None, args.seed).segments[len(index.segments) :]
        segments = known + list(gaps)
        probabilities = classify(recognizer, segments)
    predicted = probabilities.argmax(axis=1)
    words = [s.word for s in segments]
    rows = per_class(predicted, words, recognizer.classes, recognizer.glosses)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    write_csv(rows, args.output_dir / "heldout_per_class.csv")
    scored = [i for i, word in enumerate(words) if word in recognizer.classes]
    source = (
        str(args.data) if args.data else f"synthetic seed {args.seed}, {args.videos} videos ({args.sizes})"
    )
    confusion_png(
        torch.from_numpy(np.log(probabilities[scored] + 1e-12)),
        torch.tensor([recognizer.classes.index(words[i]) for i in scored]),
        recognizer.glosses,
        args.output_dir / "heldout_confusion_matrix.png",
        f"{args.artifact.name}: held out ({source})",
    )
    idle_clips = len(segments) - len(known)
    print(f"`{args.artifact.name}` on {source}: {len(known)} word clips, {idle_clips} idle clips\n")
    print(markdown(rows))
    print(f"\nword accuracy: {word_accuracy(predicted, words, recognizer.classes):.4f}")
    print(f"idle false-word rate: {idle_false_word_rate(predicted, words, recognizer.classes):.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
