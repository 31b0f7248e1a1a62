"""The video model table: every builder constructs offline and forwards its own clip shape;
the shared clip preprocessing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from perception.core.video_models import (
    SPECS,
    VIDEO_MODELS,
    VideoModelError,
    VideoModelSpec,
    build_video_model,
    frames_to_video,
    preprocess_clip,
    sample_indices,
    video_spec,
)

SLOW = {"slow_r50", "mvit_base_16x4"}  # 1.4 s and 2.4 s per forward at their own shape here
SMALL_CROP = 64  # adaptive head pools let every model but MViT run on small CPU-sized clips


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in VIDEO_MODELS]
)
def test_every_model_builds_and_forwards_its_own_clip_shape(name: str, one_torch_thread: None) -> None:
    spec = video_spec(name)
    model = build_video_model(name, num_classes=5, dropout=0.3).eval()
    clip = torch.randn(1, 3, spec.num_frames, spec.crop_size, spec.crop_size)
    with torch.inference_mode():
        logits = model(clip)
    assert logits.shape == (1, 5)
    assert not torch.allclose(logits.softmax(1).sum(1), logits.sum(1))  # logits, not probabilities


@pytest.mark.parametrize("name", [n for n in VIDEO_MODELS if not SPECS[n].fixed_size])
def test_models_run_on_small_clips_in_training_mode(name: str, one_torch_thread: None) -> None:
    model = build_video_model(name, num_classes=3, dropout=0.5).train()
    logits = model(torch.randn(2, 3, 4, SMALL_CROP, SMALL_CROP))
    assert logits.shape == (2, 3)
    logits.sum().backward()


def test_unknown_model_and_bad_arguments_are_named() -> None:
    with pytest.raises(VideoModelError, match="x3d_xs"):
        build_video_model("x3d_xxl", num_classes=3)
    with pytest.raises(VideoModelError, match="num_classes"):
        build_video_model("x3d_xs", num_classes=0)
    with pytest.raises(VideoModelError, match="dropout"):
        build_video_model("x3d_xs", num_classes=3, dropout=1.0)


def test_a_robot_without_pytorchvideo_gets_told_what_to_install(monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "pytorchvideo.models", None)  # import fails as if absent
    with pytest.raises(VideoModelError, match=r"pytorchvideo.*pip install pytorchvideo"):
        build_video_model("x3d_xs", num_classes=3)


def test_spec_round_trips_through_plain_data() -> None:
    spec = video_spec("x3d_s")
    assert VideoModelSpec.from_dict({**spec.to_dict(), "future_key": 1}) == spec


def test_sample_indices_spread_over_the_clip_and_repeat_short_ones() -> None:
    assert sample_indices(10, 4) == [0, 3, 6, 9]
    assert sample_indices(2, 4) == [0, 0, 1, 1]
    with pytest.raises(VideoModelError):
        sample_indices(0, 4)


def test_preprocess_resizes_short_side_crops_centre_and_normalises() -> None:
    spec = video_spec("x3d_xs")
    frames = np.zeros((4, 120, 200, 3), dtype=np.uint8)
    frames[..., 2] = 255  # blue in BGR
    video = frames_to_video(frames, bgr=True)
    assert video.shape == (4, 3, 120, 200) and bool((video[:, 0] == 255).all())  # red channel first
    clip = preprocess_clip(video, spec)
    assert clip.shape == (3, 4, spec.crop_size, spec.crop_size)
    expected_red = (1.0 - spec.mean[0]) / spec.std[0]
    assert torch.allclose(clip[0], torch.full_like(clip[0], expected_red), atol=1e-5)


def test_frames_with_the_wrong_layout_are_refused() -> None:
    with pytest.raises(VideoModelError, match="uint8"):
        frames_to_video(np.zeros((2, 8, 8, 3), dtype=np.float32))
