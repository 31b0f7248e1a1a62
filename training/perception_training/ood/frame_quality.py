"""``python -m perception_training.ood.frame_quality``: calibrate and measure the model nodes'
frame-quality check (``perception.core.frame_quality``: too small, or blurred or featureless).

Calibration: the sharpness of held-out in-domain frames (world seed 0, split ``ood-calibration``,
the scene kinds the image models were trained on, at the camera's 640x480); the suggested
minimum is ``MARGIN`` times their ``QUANTILE`` quantile, so that the check adds next to no false
alarm to the models' own 1 %. Evaluation, with the minimums the nodes ship
(``DEFAULT_MIN_SIDE``, ``DEFAULT_MIN_SHARPNESS``): held-out frames of world seed 61 (false
alarms), the degenerate frames of ``evaluate``, blurs of growing sigma, the real-photo frames
and signing frames at the sign model's training sizes. Writes the table between the
frame-quality markers of docs/ood.md.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import cv2
import numpy as np

from perception.core.frame_quality import (
    DEFAULT_MIN_SHARPNESS,
    DEFAULT_MIN_SIDE,
    FrameQualityCheck,
    sharpness,
)
from perception_training.engine.tables import markdown_table
from perception_training.ood.evaluate import (
    DEGENERATE_SPLIT,
    EVAL_SEED,
    EVAL_SPLIT,
    REPO_ROOT,
    fraction,
    rate,
    write_table,
)
from perception_training.ood.real_photos import DEGENERATE, evaluation_frames
from perception_training.ood.sources import CALIBRATION_SPLIT, held_out_images
from perception_training.synthetic.signing import SigningWorld

LOG = logging.getLogger(__name__)
PROG = "python -m perception_training.ood.frame_quality"
MARKERS = ("<!-- frame-quality-table:start -->", "<!-- frame-quality-table:end -->")
NODE_KINDS = ("mixed", "glass", "caption")  # the detector's and glass crops' scenes, the captioners'
CALIBRATION_SEED = 0
COLUMNS = ("frames", "flagged", "too small", "blurred or featureless", "sharpness min / median")
QUANTILE = 0.001
MARGIN = 0.5
BLUR_SIGMAS = (1.5, 2.0, 3.0, 4.0)
SIGN_SIZES = ((160, 120), (320, 240), (640, 480))  # the shipped sign model's training videos
SIGN_FRAME_STEP = 7  # every 7th frame of a signing video (15 fps)


def scenes(seed: int, split: str, count: int, kinds: Sequence[str] = NODE_KINDS) -> list[np.ndarray]:
    """``count`` camera frames of the world's ``kinds`` in turn."""
    return list(held_out_images({}, seed, split, count, kinds))


def calibrated_minimum(frames: Iterable[np.ndarray]) -> float:
    """``MARGIN`` x the ``QUANTILE`` quantile of the frames' sharpness."""
    values = np.array([sharpness(frame) for frame in frames])
    return MARGIN * float(np.quantile(values, QUANTILE, method="lower"))


def signing_frames(seed: int, split: str, videos: int, size: tuple[int, int]) -> list[np.ndarray]:
    """Every ``SIGN_FRAME_STEP``-th frame of ``videos`` signing videos at ``size``."""
    world = SigningWorld(seed)
    frames = []
    for index in range(videos):
        video = world.video(index, split, size=size)
        frames += [video.frame(i) for i in range(0, video.frame_count, SIGN_FRAME_STEP)]
    return frames


def row(name: str, frames: Sequence[np.ndarray], check: FrameQualityCheck) -> list[str]:
    """One table row's cells: frames flagged, and by which of the two checks."""
    found = [check.assess(frame) for frame in frames]
    small = np.array(["too small" in q.reason for q in found])
    soft = np.array(["blurred" in q.reason for q in found])
    values = np.array([q.sharpness for q in found])
    return [
        name,
        fraction(rate(small | soft)),
        fraction(rate(small)),
        fraction(rate(soft)),
        f"{values.min():.1f} / {np.median(values):.1f}",
    ]


def measure(held_out: int, degenerate: int, sign_videos: int, seed: int) -> list[list[str]]:
    """The table rows of every frame set, checked with the shipped minimums."""
    check = FrameQualityCheck(DEFAULT_MIN_SIDE, DEFAULT_MIN_SHARPNESS)
    rng = np.random.default_rng(seed)
    in_domain = scenes(seed, EVAL_SPLIT, held_out)
    bases = scenes(seed, DEGENERATE_SPLIT, degenerate)
    rows = [row(f"held-out in-domain (seed {seed})", in_domain, check)]
    rows += [row(name, [make(image, rng) for image in bases], check) for name, make in DEGENERATE.items()]
    blur_bases = in_domain[: held_out // 4]
    rows += [
        row(f"blurred, sigma {sigma:g}", [cv2.GaussianBlur(i, (0, 0), sigma) for i in blur_bases], check)
        for sigma in BLUR_SIGMAS
    ]
    rows.append(row("real-photo frames", evaluation_frames(), check))
    rows += [
        row(f"signing frames {w}x{h}", signing_frames(seed, EVAL_SPLIT, sign_videos, (w, h)), check)
        for w, h in SIGN_SIZES
    ]
    rows.append(
        row(
            "world's plain scenes (no model's kind)",
            scenes(seed, EVAL_SPLIT, held_out // 4, ["plain"]),
            check,
        )
    )
    return rows


def table(rows: Sequence[Sequence[str]], minimum: float, command: str) -> str:
    lines = markdown_table(COLUMNS, rows)
    note = (
        f"Minimums: short side {DEFAULT_MIN_SIDE} px, sharpness {DEFAULT_MIN_SHARPNESS:g} (calibrated "
        f"now: {minimum:.1f}). Reproduce: `{command}`"
    )
    return "\n".join([*lines, "", note])


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calibration", type=int, default=1200, help="held-out frames to calibrate on")
    parser.add_argument("--held-out", type=int, default=400, help="held-out in-domain frames")
    parser.add_argument("--degenerate", type=int, default=20, help="frames of each degenerate kind")
    parser.add_argument("--sign-videos", type=int, default=12, help="signing videos per size")
    parser.add_argument("--seed", type=int, default=EVAL_SEED, help="world seed of the held-out frames")
    parser.add_argument("--docs", type=Path, default=REPO_ROOT / "docs", help="where ood.md lives")
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    minimum = calibrated_minimum(scenes(CALIBRATION_SEED, CALIBRATION_SPLIT, args.calibration))
    LOG.info("calibrated minimum sharpness %.2f (the nodes ship %g)", minimum, DEFAULT_MIN_SHARPNESS)
    text = table(
        measure(args.held_out, args.degenerate, args.sign_videos, args.seed),
        minimum,
        shlex.join([*PROG.split(), *argv]),
    )
    write_table(args.docs / "ood.md", text, MARKERS)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
