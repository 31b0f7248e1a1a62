"""Clips of AIHub sign segments for training: decoding, frame sampling, augmentation, batches.

Augmentation is spatial and photometric (random resized crop, mild colour jitter, the same for
every frame of a clip). A horizontal flip changes the word when left and right are words, so it
is used only with the word pairs it exchanges (``mirror``): a flipped clip of a right-handed
signer is a left-handed signer's clip of the paired word.

The background class (``IDLE_CLASS``) is sampled from each video's unlabelled time: the gaps
between its segments, before the first and after the last, when long enough.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import av
import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from torchvision import tv_tensors
from torchvision.transforms import v2

from perception.core.sign import IDLE_CLASS
from perception.core.video_models import (
    VideoModelSpec,
    downscale,
    frames_to_video,
    normalise,
    preprocess_clip,
    sample_indices,
)
from perception_training.sign.aihub import AihubIndex, SignSegment, video_duration


def read_frames(
    path: Path, start_s: float = 0.0, end_s: float = float("inf"), short_side: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """RGB frames ``(T, H, W, 3)`` uint8 of ``path`` shown in ``[start_s, end_s)``, and their times.

    When the window holds no frame (a window shorter than one frame), the frame shown at
    ``start_s`` is returned alone. ``short_side`` shrinks each frame as it is decoded, exactly
    as the sign node shrinks camera frames (``downscale``).
    """
    shrink = (lambda image: downscale(image, short_side)) if short_side else (lambda image: image)
    frames, times = [], []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if start_s > 0:
            container.seek(int(start_s / stream.time_base), stream=stream, backward=True)
        previous = None
        for frame in container.decode(stream):
            time = float(frame.pts * stream.time_base) if frame.pts is not None else float(frame.time)
            if time >= end_s:
                break
            if time < start_s:
                previous = frame
                continue
            frames.append(shrink(frame.to_ndarray(format="rgb24")))
            times.append(time)
    if not frames:
        if previous is None:
            raise ValueError(f"{path}: no frame decodes in {start_s:.3f}-{end_s:.3f} s")
        frames, times = [shrink(previous.to_ndarray(format="rgb24"))], [float(previous.time)]
    return np.stack(frames), np.asarray(times)


def clip_window(segment: SignSegment, clip_duration: float) -> tuple[float, float]:
    """The segment itself, or ``clip_duration`` seconds centred on it (not before 0 s)."""
    if clip_duration <= 0:
        return segment.start_s, segment.end_s
    centre = (segment.start_s + segment.end_s) / 2
    start = max(0.0, centre - clip_duration / 2)
    return start, start + clip_duration


def overlap_s(window: tuple[float, float], segment: SignSegment) -> float:
    """Seconds of ``segment`` inside ``window``."""
    return max(0.0, min(window[1], segment.end_s) - max(window[0], segment.start_s))


def stream_window(
    segment: SignSegment,
    words: Sequence[SignSegment],
    clip_s: float,
    coverage: float,
    tries: int = 10,
) -> tuple[float, float]:
    """A random ``clip_s`` window as a sliding node sees ``segment`` (torch's RNG, per sample).

    A live stream's clips never line up with a sign. For a word, the window holds at least
    ``coverage`` of it (of the window, for a word longer than the window) and lies anywhere
    that allows; for an idle segment, the window's centre lies in the gap. Either way every
    other word of the video (``words``) is at most ``1 - coverage`` inside it, so the label
    stays true. After ``tries`` draws that break this, the window centred on ``segment``.
    """
    low, high = segment.start_s, segment.end_s  # range of the window's end (word) or centre (idle)
    if segment.word != IDLE_CLASS:
        need = coverage * min(segment.end_s - segment.start_s, clip_s)
        low, high = segment.start_s + need, segment.end_s + clip_s - need
    for _ in range(tries):
        point = low + float(torch.rand(())) * (high - low)
        start = max(0.0, point - clip_s if segment.word != IDLE_CLASS else point - clip_s / 2)
        window = (start, start + clip_s)
        others = (w for w in words if w != segment)
        if all(overlap_s(window, w) <= (1 - coverage) * min(w.end_s - w.start_s, clip_s) for w in others):
            return window
    return clip_window(segment, clip_s)


class FrameCache:
    """Decoded videos at the model's input size, up to ``max_bytes`` (least recently used out).

    A video is decoded once and its frames shrunk as the sign node shrinks camera frames;
    every later clip of it, a fresh random window each epoch, is then a slice.
    """

    def __init__(self, short_side: int, max_bytes: int) -> None:
        self.short_side, self.max_bytes = short_side, max_bytes
        self._videos: OrderedDict[Path, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._bytes = 0

    def window(self, path: Path, start_s: float, end_s: float) -> np.ndarray:
        """Frames shown in ``[start_s, end_s)``, or the one shown at ``start_s`` (as read_frames)."""
        if self.max_bytes <= 0:
            return read_frames(path, start_s, end_s, self.short_side)[0]
        frames, times = self._video(path)
        inside = np.flatnonzero((times >= start_s) & (times < end_s))
        if inside.size:
            return frames[inside[0] : inside[-1] + 1]
        shown = max(int(np.searchsorted(times, start_s, side="right")) - 1, 0)
        return frames[shown : shown + 1]

    def _video(self, path: Path) -> tuple[np.ndarray, np.ndarray]:
        if path in self._videos:
            self._videos.move_to_end(path)
            return self._videos[path]
        video = read_frames(path, short_side=self.short_side)
        self._videos[path] = video
        self._bytes += video[0].nbytes
        while self._bytes > self.max_bytes and len(self._videos) > 1:
            _, (frames, _) = self._videos.popitem(last=False)
            self._bytes -= frames.nbytes
        return video


def idle_segments(
    segments: Sequence[SignSegment], durations: Mapping[Path, float], min_gap_s: float
) -> list[SignSegment]:
    """Every unlabelled span of at least ``min_gap_s`` seconds, as an ``IDLE_CLASS`` segment.

    Per video of ``segments`` (its length from ``durations``): the time before its first
    segment, between segments and after its last. Overlapping segments count as one span.
    """
    by_video: dict[Path, list[SignSegment]] = {}
    for segment in segments:
        by_video.setdefault(segment.video, []).append(segment)
    idle = []
    for video, labelled in by_video.items():
        edge = 0.0
        for segment in sorted(labelled, key=lambda s: s.start_s):
            if segment.start_s - edge >= min_gap_s:
                idle.append(SignSegment(video, edge, segment.start_s, IDLE_CLASS))
            edge = max(edge, segment.end_s)
        if durations[video] - edge >= min_gap_s:
            idle.append(SignSegment(video, edge, durations[video], IDLE_CLASS))
    return idle


def with_idle(index: AihubIndex, min_gap_s: float, count: int | None, seed: int) -> AihubIndex:
    """``index`` plus idle segments: all of them, or a seeded sample of ``count`` (fewer if short)."""
    durations = {video: video_duration(video) for video in index.videos}
    idle = idle_segments(index.segments, durations, min_gap_s)
    if count is not None and count < len(idle):
        picked = np.random.default_rng(seed).choice(len(idle), size=count, replace=False)
        idle = [idle[i] for i in sorted(picked)]
    return replace(index, segments=index.segments + tuple(idle))


def train_transform(spec: VideoModelSpec) -> v2.Transform:
    """Random crop covering 70-100 % of the frame and mild colour jitter, one draw per clip.

    Not less than 70 %: the signer fills the frame, and a smaller crop often cuts a hand off.
    """
    return v2.Compose(
        [
            v2.RandomResizedCrop(spec.crop_size, scale=(0.7, 1.0), ratio=(0.8, 1.25), antialias=True),
            v2.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2, hue=0.02),
        ]
    )


def mirror_labels(pairs: Mapping[str, str], class_ids: Mapping[str, int]) -> list[int]:
    """Class id -> class id of its mirror image: each pair's words swapped, every other word kept."""
    unknown = sorted({w for pair in pairs.items() for w in pair} - set(class_ids))
    if unknown:
        raise ValueError(f"mirror words {unknown} are not classes of this data set ({sorted(class_ids)})")
    swap = {**pairs, **{b: a for a, b in pairs.items()}}
    ids = {word: class_ids[swap.get(word, word)] for word in class_ids}
    return [ids[word] for word in sorted(class_ids, key=class_ids.__getitem__)]


class SignClipDataset(Dataset):
    """``(clip (3, T, S, S) float, label)`` per segment; ``train`` switches augmentation on.

    With a ``clip_duration``, training clips are random ``stream_window``s holding at least
    ``min_coverage`` of their sign, validation clips are centred on it.
    """

    def __init__(
        self,
        segments: Sequence[SignSegment],
        classes: Sequence[str],
        spec: VideoModelSpec,
        clip_duration: float,
        train: bool,
        min_coverage: float = 0.75,
        cache_bytes: int = 0,
        mirror: Mapping[str, str] | None = None,
    ) -> None:
        if not 0.5 <= min_coverage <= 1.0:
            raise ValueError(f"min_coverage must lie in [0.5, 1], got {min_coverage}")
        self.segments = list(segments)
        self.class_ids = {word: i for i, word in enumerate(classes)}
        self.spec, self.clip_duration, self.min_coverage = spec, clip_duration, min_coverage
        self.augment = train_transform(spec) if train else None
        self.mirror = mirror_labels(mirror, self.class_ids) if train and mirror else None
        self.frames = FrameCache(spec.crop_size, cache_bytes)
        self.words: dict[Path, list[SignSegment]] = {}
        for segment in self.segments:
            if segment.word != IDLE_CLASS:
                self.words.setdefault(segment.video, []).append(segment)

    def __len__(self) -> int:
        return len(self.segments)

    def window(self, segment: SignSegment) -> tuple[float, float]:
        """The seconds of ``segment``'s video this sample's clip shows."""
        if self.augment is None or self.clip_duration <= 0:
            return clip_window(segment, self.clip_duration)
        words = self.words.get(segment.video, [])
        return stream_window(segment, words, self.clip_duration, self.min_coverage)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        segment = self.segments[index]
        frames = self.frames.window(segment.video, *self.window(segment))
        video = frames_to_video(frames)[sample_indices(len(frames), self.spec.num_frames)]
        if self.augment is None:
            clip = preprocess_clip(video, self.spec)
        else:
            clip = normalise(self.augment(tv_tensors.Video(video)).as_subclass(torch.Tensor), self.spec)
        label = self.class_ids[segment.word]
        if self.mirror is not None and float(torch.rand(())) < 0.5:
            clip, label = clip.flip(-1), self.mirror[label]
        return clip, label


class SignDataModule(L.LightningDataModule):
    """Train and validation loaders over already split segment lists."""

    def __init__(
        self,
        train: Sequence[SignSegment],
        val: Sequence[SignSegment],
        classes: Sequence[str],
        spec: VideoModelSpec,
        clip_duration: float,
        batch_size: int,
        num_workers: int = 0,
        pin_memory: bool = False,
        min_coverage: float = 0.75,
        cache_bytes: int = 0,
        mirror: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.train_set = SignClipDataset(
            train, classes, spec, clip_duration, True, min_coverage, cache_bytes, mirror
        )
        self.val_set = SignClipDataset(val, classes, spec, clip_duration, False, cache_bytes=cache_bytes)
        self.loader_options = {
            "batch_size": batch_size,
            "num_workers": num_workers,
            "pin_memory": pin_memory,
            "persistent_workers": num_workers > 0,
        }

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train_set, shuffle=True, drop_last=False, **self.loader_options)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, shuffle=False, **self.loader_options)
