"""Synthetic sign language: the signing world and its writer in the AIHub morpheme layout.

``write_aihub_dataset`` writes ``ROOT/video/NAME.mp4`` (H.264) beside
``ROOT/label/NAME_morpheme.json``, the layout of AIHub's Korean sign-language data set, so
the same reader (``perception_training.sign.aihub``) loads synthetic and real data.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from functools import partial
from pathlib import Path

import av
import numpy as np
from tqdm import tqdm

from perception_training.synthetic.signing_video import (
    GAP_SECONDS,
    SIGN_WORDS,
    SignedWord,
    SigningWorld,
    SignVideo,
    words_to_fill,
)
from perception_training.synthetic.writers.files import fresh_dir

__all__ = [
    "GAP_SECONDS",
    "SIGN_WORDS",
    "SignVideo",
    "SignedWord",
    "SigningWorld",
    "morpheme_label",
    "words_to_fill",
    "write_aihub_dataset",
]

EXPORTED_ON = "2026/01/01"  # fixed, so a data set is byte-for-byte reproducible
VIDEO_CODEC = "libx264"


def video_name(index: int) -> str:
    return f"synthetic_sign_{index:06d}"


def morpheme_label(name: str, video: SignVideo) -> dict:
    """The AIHub ``*_morpheme.json`` content for ``video`` saved as ``name``.mp4."""
    return {
        "metaData": {
            "name": f"{name}.mp4",
            "duration": round(video.duration_s, 3),
            "url": "",
            "exportedOn": EXPORTED_ON,
        },
        "data": [{"start": w.start_s, "end": w.end_s, "attributes": [{"name": w.word}]} for w in video.words],
    }


def write_mp4(path: Path, frames: Iterable[np.ndarray], fps: int) -> None:
    """Encode BGR frames as an H.264 (yuv420p) mp4; width and height must be even."""
    frames = iter(frames)
    first = next(frames)
    height, width = first.shape[:2]
    if width % 2 or height % 2:
        raise ValueError(f"H.264 needs an even width and height, got {width}x{height}")
    with av.open(str(path), "w") as container:
        stream = container.add_stream(VIDEO_CODEC, rate=fps, options={"crf": "18", "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for image in (first, *frames):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
        container.mux(stream.encode())


def write_aihub_dataset(
    root: str | Path,
    seed: int,
    videos: int,
    words_per_video: tuple[int, int] = (2, 4),
    size: tuple[int, int] | Sequence[tuple[int, int]] = (160, 120),
    fps: int = 15,
    gaps: tuple[float, float] = GAP_SECONDS,
    workers: int = 1,
    low_contrast: float = 0.0,
) -> Path:
    """Write ``videos`` signing videos of ``SigningWorld(seed)`` and their labels; return ``root``.

    Each video has ``words_per_video[0]..[1]`` signs (inclusive) at exact, millisecond times,
    ``gaps`` seconds of idle time between two; ``low_contrast`` is the share of signers dressed
    close to their skin tone (see ``SigningWorld.video``). ``size`` is one (width, height) or several, taken
    in turn (video ``i`` gets ``sizes[i % len(sizes)]``): cameras differ, and a model that only
    saw one size learns that size's look. ``workers`` processes render in parallel (the output
    does not depend on it). Rewriting a folder first deletes what an earlier run left there.
    """
    if videos < 1:
        raise ValueError(f"need at least one video, got {videos}")
    sizes = _sizes(size)
    root = Path(root).resolve()
    fresh_dir(root / "video", "*.mp4"), fresh_dir(root / "label", "*_morpheme.json")
    job = partial(_write_video, root, seed, words_per_video, sizes, fps, gaps, low_contrast)
    with ProcessPoolExecutor(workers) if workers > 1 else nullcontext() as pool:
        written = pool.map(job, range(videos)) if pool else map(job, range(videos))
        for _ in tqdm(written, total=videos, desc="sign videos", unit="video"):
            pass
    info = {
        "generator": "perception_training.synthetic.signing",
        "format": "aihub-morpheme",
        "seed": seed,
        "videos": videos,
        "words_per_video": list(words_per_video),
        "sizes": [list(s) for s in sizes],
        "fps": fps,
        "gaps": list(gaps),
        "low_contrast": low_contrast,
        "classes": sorted(SIGN_WORDS),
        "motions": SIGN_WORDS,
    }
    (root / "synthetic.json").write_text(
        json.dumps(info, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return root


def _sizes(size: tuple[int, int] | Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """One (width, height) or a list of them -> a non-empty list of int pairs."""
    if not size:
        raise ValueError("need at least one video size")
    sizes = [size] if isinstance(size[0], int) else list(size)
    return [(int(w), int(h)) for w, h in sizes]


def _write_video(
    root: Path,
    seed: int,
    words: tuple[int, int],
    sizes: list[tuple[int, int]],
    fps: int,
    gaps: tuple[float, float],
    low_contrast: float,
    index: int,
) -> None:
    """Render, encode and label video ``index`` (a pure function of its arguments)."""
    size = sizes[index % len(sizes)]
    video = SigningWorld(seed).video(index, "train", words, size, fps, gaps, low_contrast)
    name = video_name(index)
    write_mp4(root / "video" / f"{name}.mp4", video.frames(), fps)
    label = json.dumps(morpheme_label(name, video), ensure_ascii=False, indent=1)
    (root / "label" / f"{name}_morpheme.json").write_text(label + "\n", encoding="utf-8")
