"""Clips of AIHub sign segments for training: decoding, frame sampling, augmentation, batches.

Augmentation is spatial and photometric only (random resized crop, mild colour jitter, the
same for every frame of a clip): never a horizontal flip, since left and right are words.

The background class (``IDLE_CLASS``) is sampled from each video's unlabelled time: the gaps
between its segments, before the first and after the last, when long enough.
"""

from __future__ import annotations

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
    frames_to_video,
    normalise,
    preprocess_clip,
    sample_indices,
)
from perception_training.sign.aihub import AihubIndex, SignSegment, video_duration


def read_frames(
    path: Path, start_s: float = 0.0, end_s: float = float("inf")
) -> tuple[np.ndarray, np.ndarray]:
    """RGB frames ``(T, H, W, 3)`` uint8 of ``path`` shown in ``[start_s, end_s)``, and their times.

    When the window holds no frame (a window shorter than one frame), the frame shown at
    ``start_s`` is returned alone.
    """
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
            frames.append(frame.to_ndarray(format="rgb24"))
            times.append(time)
    if not frames:
        if previous is None:
            raise ValueError(f"{path}: no frame decodes in {start_s:.3f}-{end_s:.3f} s")
        frames, times = [previous.to_ndarray(format="rgb24")], [float(previous.time)]
    return np.stack(frames), np.asarray(times)


def clip_window(segment: SignSegment, clip_duration: float) -> tuple[float, float]:
    """The segment itself, or ``clip_duration`` seconds centred on it (not before 0 s)."""
    if clip_duration <= 0:
        return segment.start_s, segment.end_s
    centre = (segment.start_s + segment.end_s) / 2
    start = max(0.0, centre - clip_duration / 2)
    return start, start + clip_duration


def jittered(window: tuple[float, float], jitter: float) -> tuple[float, float]:
    """Move each end of ``window`` by up to ``jitter`` of its length (torch's RNG, per sample).

    Sliding clips on a live stream never line up with a sign: a clip starts in the approach or
    ends in the return to rest. Training on shifted windows teaches the word from part of it.
    """
    start, end = window
    if jitter <= 0:
        return window
    length = end - start
    shift = (torch.rand(2) * 2 - 1) * jitter * length
    new_start = max(0.0, start + float(shift[0]))
    return new_start, max(new_start + 0.5 * length, end + float(shift[1]))


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


class SignClipDataset(Dataset):
    """``(clip (3, T, S, S) float, label)`` per segment; ``train`` switches augmentation on."""

    def __init__(
        self,
        segments: Sequence[SignSegment],
        classes: Sequence[str],
        spec: VideoModelSpec,
        clip_duration: float,
        train: bool,
        clip_jitter: float = 0.0,
    ) -> None:
        self.segments = list(segments)
        self.class_ids = {word: i for i, word in enumerate(classes)}
        self.spec, self.clip_duration = spec, clip_duration
        self.augment = train_transform(spec) if train else None
        self.clip_jitter = clip_jitter if train else 0.0

    def __len__(self) -> int:
        return len(self.segments)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        segment = self.segments[index]
        window = jittered(clip_window(segment, self.clip_duration), self.clip_jitter)
        frames, _ = read_frames(segment.video, *window)
        video = frames_to_video(frames)[sample_indices(len(frames), self.spec.num_frames)]
        if self.augment is None:
            clip = preprocess_clip(video, self.spec)
        else:
            clip = normalise(self.augment(tv_tensors.Video(video)).as_subclass(torch.Tensor), self.spec)
        return clip, self.class_ids[segment.word]


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
        clip_jitter: float = 0.0,
    ) -> None:
        super().__init__()
        self.train_set = SignClipDataset(
            train, classes, spec, clip_duration, train=True, clip_jitter=clip_jitter
        )
        self.val_set = SignClipDataset(val, classes, spec, clip_duration, train=False)
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
