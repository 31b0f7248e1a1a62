"""AIHub Korean sign-language data: ``ROOT/video/**/NAME.mp4`` beside ``ROOT/label/**/NAME_morpheme.json``.

A morpheme label holds ``metaData`` (name, duration, url, exportedOn) and ``data``: segments
``{"start": s, "end": s, "attributes": [{"name": WORD}]}`` in seconds. Real data sets have
broken files; each problem skips only what it spoils (a file, a video, or one segment) with a
reason that says what is wrong and how to fix it, and the rest still loads.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import av
import numpy as np

LOG = logging.getLogger(__name__)

LABEL_SUFFIX = "_morpheme.json"
DURATION_TOLERANCE_S = 0.05  # a segment may end this much after the last frame (rounding in labels)


@dataclass(frozen=True)
class SignSegment:
    """One signed word: ``word`` is signed in ``video`` from ``start_s`` to ``end_s`` seconds."""

    video: Path
    start_s: float
    end_s: float
    word: str


@dataclass(frozen=True)
class Skipped:
    """A file or segment left out, and why (what is wrong and how to fix it)."""

    path: Path
    reason: str


@dataclass(frozen=True)
class AihubIndex:
    """The usable segments of a data set and everything that was left out."""

    segments: tuple[SignSegment, ...]
    skipped: tuple[Skipped, ...] = ()

    @property
    def classes(self) -> tuple[str, ...]:
        """The sorted unique words."""
        return tuple(sorted({s.word for s in self.segments}))

    @property
    def videos(self) -> tuple[Path, ...]:
        """The videos with at least one segment, in order of first appearance."""
        return tuple(dict.fromkeys(s.video for s in self.segments))


class LabelError(ValueError):
    """A label file or one of its segments cannot be used; the message says why."""


def read_aihub(root: str | Path) -> AihubIndex:
    """Index every usable segment under ``root``; log one summary line with the counts."""
    root = Path(root)
    video_dir, label_dir = root / "video", root / "label"
    if not (video_dir.is_dir() and label_dir.is_dir()):
        raise FileNotFoundError(
            f"{root} is not an AIHub sign data set: it needs video/ (NAME.mp4) and label/ "
            f"(NAME{LABEL_SUFFIX}) folders"
        )
    videos, skipped = _by_name(sorted(video_dir.rglob("*.mp4")), ".mp4")
    labels, duplicates = _by_name(sorted(label_dir.rglob(f"*{LABEL_SUFFIX}")), LABEL_SUFFIX)
    skipped += duplicates
    segments: list[SignSegment] = []
    for name in sorted(videos.keys() | labels.keys()):
        video, label = videos.get(name), labels.get(name)
        if label is None:
            skipped.append(
                Skipped(
                    video, f"no label file {name}{LABEL_SUFFIX} under {label_dir}; add it or remove the video"
                )
            )
        elif video is None:
            skipped.append(
                Skipped(label, f"no video {name}.mp4 under {video_dir}; add it or remove the label file")
            )
        else:
            found, problems = _read_pair(video, label)
            segments += found
            skipped += problems
    index = AihubIndex(tuple(segments), tuple(skipped))
    LOG.info(
        "AIHub %s: %d segments in %d videos, %d words; skipped %d (in %d files)",
        root,
        len(index.segments),
        len(index.videos),
        len(index.classes),
        len(index.skipped),
        len({s.path for s in index.skipped}),
    )
    return index


def _by_name(paths: list[Path], suffix: str) -> tuple[dict[str, Path], list[Skipped]]:
    """Files keyed by NAME; of a NAME found in several subfolders the first (sorted) is kept."""
    found: dict[str, Path] = {}
    skipped = []
    for path in paths:
        name = path.name.removesuffix(suffix)
        if name in found:
            skipped.append(Skipped(path, f"same name as {found[name]}, which is used; rename or remove one"))
        else:
            found[name] = path
    return found, skipped


def _read_pair(video: Path, label: Path) -> tuple[list[SignSegment], list[Skipped]]:
    try:
        duration = video_duration(video)
    except ValueError as error:
        return [], [Skipped(video, f"{error}; re-encode or re-download it (its label is skipped too)")]
    try:
        entries = _label_entries(label)
    except LabelError as error:
        return [], [Skipped(label, str(error))]
    segments, skipped = [], []
    for number, entry in enumerate(entries):
        try:
            segments.append(_segment(entry, video, duration))
        except LabelError as error:
            skipped.append(Skipped(label, f"segment {number}: {error}"))
    return segments, skipped


def video_duration(path: Path) -> float:
    """The mp4's real duration in seconds, after checking that its first and last frames decode.

    Raises ValueError naming the problem (not a video, no video stream, truncated, ...).
    """
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ValueError(f"{path.name} has no video stream")
            stream = container.streams.video[0]
            if stream.duration is not None:
                duration = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                duration = container.duration / av.time_base
            else:
                raise ValueError(f"{path.name} does not state its duration")
            _decode_one(container, stream, "first")
            container.seek(max(0, int((duration - 1.0) / stream.time_base)), stream=stream)
            _decode_one(container, stream, "last")
    except (av.FFmpegError, OSError) as error:
        raise ValueError(f"{path.name} cannot be read as a video ({error})") from error
    return duration


def _decode_one(container: av.container.InputContainer, stream: av.VideoStream, which: str) -> None:
    if next(container.decode(stream), None) is None:
        raise ValueError(f"no frame decodes near the {which} second of the video (truncated?)")


def _label_entries(path: Path) -> list:
    try:
        label = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise LabelError(f"not UTF-8 text ({error}); save the label file as UTF-8") from error
    except json.JSONDecodeError as error:
        raise LabelError(
            f"invalid JSON at line {error.lineno} column {error.colno}: {error.msg}; fix or re-export it"
        ) from error
    if not isinstance(label, dict) or not isinstance(label.get("data"), list):
        raise LabelError('missing key "data" (a list of segments); this is not an AIHub morpheme label')
    return label["data"]


def _segment(entry: object, video: Path, duration: float) -> SignSegment:
    if not isinstance(entry, dict):
        raise LabelError(f"is {type(entry).__name__}, not an object with start, end and attributes")
    missing = [key for key in ("start", "end", "attributes") if key not in entry]
    if missing:
        raise LabelError(f"missing key(s) {missing}; each segment needs start, end and attributes")
    word = _word(entry["attributes"])
    try:
        start, end = float(entry["start"]), float(entry["end"])
    except (TypeError, ValueError) as error:
        raise LabelError(
            f"({word!r}) start/end are not numbers: {entry['start']!r}, {entry['end']!r}"
        ) from error
    if not (np.isfinite(start) and np.isfinite(end) and 0 <= start < end):
        raise LabelError(
            f"({word!r}) needs 0 <= start < end, got start {start} s, end {end} s; fix the times"
        )
    if end > duration + DURATION_TOLERANCE_S:
        raise LabelError(
            f"({word!r}) ends at {end:.3f} s, after the end of {video.name} ({duration:.3f} s, read from "
            "the video); fix the times or use the complete video"
        )
    return SignSegment(video, start, end, word)


def _word(attributes: object) -> str:
    if not (isinstance(attributes, list) and len(attributes) == 1 and isinstance(attributes[0], dict)):
        raise LabelError(f'attributes must be one [{{"name": WORD}}], got {attributes!r}')
    word = attributes[0].get("name")
    if not isinstance(word, str) or not word.strip():
        raise LabelError(f'attributes has no word: "name" is {word!r}')
    return word.strip()


def split_by_video(index: AihubIndex, val_fraction: float, seed: int) -> tuple[AihubIndex, AihubIndex]:
    """(train, val): a seeded random ``val_fraction`` of the videos, all their segments, go to val.

    No video is in both. With two or more videos each side gets at least one. The index's
    skipped entries stay with train.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    videos = sorted(index.videos)
    count = round(len(videos) * val_fraction)
    if val_fraction > 0 and len(videos) >= 2:
        count = min(max(count, 1), len(videos) - 1)
    order = np.random.default_rng(seed).permutation(len(videos))
    val_videos = {videos[i] for i in order[:count]}
    train = tuple(s for s in index.segments if s.video not in val_videos)
    val = tuple(s for s in index.segments if s.video in val_videos)
    return AihubIndex(train, index.skipped), AihubIndex(val)


def check_vocabulary(train: AihubIndex, val: AihubIndex) -> AihubIndex:
    """``val`` with every segment of a word that ``train`` never shows moved to skipped."""
    known = set(train.classes)
    unknown = [s for s in val.segments if s.word not in known]
    if unknown:
        LOG.warning("%d validation segments have words training never shows; skipped", len(unknown))
    return replace(
        val,
        segments=tuple(s for s in val.segments if s.word in known),
        skipped=val.skipped
        + tuple(
            Skipped(
                s.video,
                f"word {s.word!r} ({s.start_s:.3f}-{s.end_s:.3f} s) is not in the training words; "
                "add training videos of it or drop it from validation",
            )
            for s in unknown
        ),
    )
