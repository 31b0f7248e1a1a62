"""Clips of the signing world, cut as the sign node cuts a camera stream, for a sign artifact's
domain statistics.

A sign model's training videos come back exactly as ``write_aihub_dataset`` drew them for the
trainer (the artifact's ``dataset``: seed, number of videos, sizes in turn, longest gap,
low-contrast share; the writer's default frame rate and words per video), without the H.264
round trip (crf 18, near lossless). Each video gives clips one after another, as a sliding
node sees it: ``clip_duration`` seconds, ``num_frames`` frames evenly over them (the node keeps
frames at that rate), each downscaled to the model's crop size as the node keeps them. They
cover signs and the idle time between, both of which the model was trained on.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from perception.core.sign import clip_duration
from perception.core.video_models import downscale
from perception_training.engine.flags import parse_sizes
from perception_training.synthetic.signing import GAP_SECONDS, SigningWorld, SignVideo

SIGN_CLIPS = "sign clips"  # the sign model's "images": clips of signing videos
SIGN_GENERATOR = "perception_training.synthetic.signing"
WRITER_FPS = 15  # write_aihub_dataset's defaults, which the sign trainer keeps
WRITER_WORDS = (2, 4)


def video_sizes(dataset: Mapping[str, Any]) -> list[tuple[int, int]]:
    """The (width, height) of the training videos, in turn: the trainer records ``"WxH,..."``."""
    sizes = dataset["sizes"]
    if isinstance(sizes, str):
        return parse_sizes(sizes, "the artifact's dataset sizes")
    return [(int(w), int(h)) for w, h in sizes]


def sign_clips(
    metadata: Mapping[str, Any], seed: int, split: str, count: int, videos: int | None = None
) -> Iterator[np.ndarray]:
    """Up to ``count`` clips ``(T, H, W, 3)`` (BGR uint8) of the videos of ``split``, from at most
    ``videos`` videos (all the training set has; unlimited for a held-out split)."""
    dataset = metadata["dataset"]
    world, sizes = SigningWorld(seed), video_sizes(dataset)
    gaps = (GAP_SECONDS[0], float(dataset.get("max_gap_s", GAP_SECONDS[1])))
    low_contrast = float(dataset.get("low_contrast", 0.0))
    produced, index = 0, 0
    while produced < count and (videos is None or index < videos):
        size = sizes[index % len(sizes)]
        video = world.video(index, split, WRITER_WORDS, size, WRITER_FPS, gaps, low_contrast)
        for clip in _stream_clips(video, metadata):
            if produced == count:
                return
            produced += 1
            yield clip
        index += 1


def _stream_clips(video: SignVideo, metadata: Mapping[str, Any]) -> Iterator[np.ndarray]:
    """Consecutive clips of ``video`` with the artifact's clip format."""
    span, side = clip_duration(dict(metadata)), int(metadata["crop_size"])
    frames = int(metadata["num_frames"])
    start = 0.0
    while (start + span) * video.fps < video.frame_count:
        times = start + np.linspace(0.0, span, frames)
        indices = np.minimum(np.round(times * video.fps).astype(int), video.frame_count - 1)
        yield np.stack([downscale(video.frame(int(i)), side) for i in indices])
        start += span
