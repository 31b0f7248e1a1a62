"""Sign node in-process: clips cut by stamp, gap resets, threshold and background class, SignLabel fields.

Most tests inject ``MotionRecognizer`` through the ``model_factory`` seam: it names the
direction a bright square moves in across the clip (from the mean shift of its centroid) and
records the centroids it saw, so the tests check that the node hands it the right frames, in
order, at the model's rate. One test loads a tiny untrained artifact written like the trainer's.
"""

from __future__ import annotations

import time
from typing import ClassVar

import numpy as np
import pytest
import torch
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter
from sensor_msgs.msg import Image

from perception.core.artifacts import save_artifact
from perception.core.domain import UNSCORED, DomainVerdict
from perception.core.images import numpy_to_image
from perception.core.sign import SignPrediction
from perception.core.video_models import VideoModelSpec, build_video_model
from perception.nodes.framework.model_path import resolve_model_path
from perception.nodes.sign_node import LoadedSign, SignNode, SignParameters
from perception_msgs.msg import SignLabel
from perception_training.ood.calibrate import calibrate_artifact
from perception_training.ood.sign_clips import SIGN_GENERATOR
from perception_training.sign.artifact import sign_metadata

SUCCESS = TransitionCallbackReturn.SUCCESS
CAMERA_HZ = 30.0
SPEED_PX_S = 30.0  # the square moves one camera pixel per camera frame
START_S = 1000  # stamp of the first frame [s]
IDLE, LEFT, RIGHT = "_idle_", "왼쪽", "오른쪽"
# The fake model's clip format: 10 Hz over 0.4 s (5 frames), frames downscaled to 24 px (x0.5).
MODEL_HZ, MODEL_CLIP_S, INPUT_SIZE = 10.0, 0.4, 24
SCALE = INPUT_SIZE / 48


class MotionRecognizer:
    """Right / left / idle by the mean x-shift of the bright square's centroid over the clip."""

    classes: ClassVar[list[str]] = [IDLE, LEFT, RIGHT]

    def __init__(self, confidence: float = 0.9, delay_s: float = 0.0) -> None:
        self.confidence = confidence
        self.delay_s = delay_s
        self.clips: list[list[float]] = []  # the centroid x of every frame of every clip [px]

    def predict(self, frames: list[np.ndarray]) -> np.ndarray:
        time.sleep(self.delay_s)
        xs = [centroid_x(frame) for frame in frames]
        self.clips.append(xs)
        shift = float(np.mean(np.diff(xs))) if len(xs) > 1 else 0.0
        best = RIGHT if shift > 0.25 else LEFT if shift < -0.25 else IDLE
        probabilities = np.full(len(self.classes), (1.0 - self.confidence) / 2)
        probabilities[self.classes.index(best)] = self.confidence
        return probabilities

    def top_k(self, probabilities: np.ndarray, k: int) -> list[SignPrediction]:
        order = np.argsort(-probabilities, kind="stable")[:k]
        return [
            SignPrediction(int(i), self.classes[i], self.classes[i], float(probabilities[i])) for i in order
        ]

    def domain_verdict(self) -> DomainVerdict:
        return UNSCORED  # a model without domain statistics


def centroid_x(bgr: np.ndarray) -> float:
    weights = bgr.mean(axis=(0, 2))
    return float((weights * np.arange(len(weights))).sum() / weights.sum())


def fake_factory(recognizer: MotionRecognizer, min_score: float = 0.6):
    """Like the node's loader: resolves model_path (a missing file fails), then 'loads'."""

    def factory(params: SignParameters) -> LoadedSign:
        resolve_model_path(params.model_path)
        return LoadedSign(recognizer, "motion@test", MODEL_HZ, MODEL_CLIP_S, INPUT_SIZE, min_score)

    return factory


def frame(stamp_s: float, x: float) -> Image:
    """A 64x48 dark frame with a bright 6x6 square whose left edge is at ``x`` px."""
    pixels = np.zeros((48, 64, 3), np.uint8)
    left = round(x)
    pixels[20:26, left : left + 6] = 255
    msg = numpy_to_image(pixels, "bgr8")
    msg.header.frame_id = "camera"
    msg.header.stamp.sec = int(stamp_s)
    msg.header.stamp.nanosec = round((stamp_s - int(stamp_s)) * 1e9)
    return msg


def motion(count: int, start_s: float = START_S, velocity: float = SPEED_PX_S, x0: float = 4.0):
    """``count`` camera frames at 30 Hz, the square moving at ``velocity`` px/s from ``x0``."""
    return [frame(start_s + i / CAMERA_HZ, x0 + velocity * i / CAMERA_HZ) for i in range(count)]


def start(ros, params: dict, factory) -> SignNode:
    node = ros.add(
        SignNode(
            model_factory=factory,
            context=ros.context,
            parameter_overrides=[Parameter(k, value=v) for k, v in params.items()],
        )
    )
    assert node.trigger_configure() == SUCCESS
    assert node.trigger_activate() == SUCCESS
    return node


def play(ros, node: SignNode, frames: list[Image], wait_for_clips: bool = True) -> None:
    """Publish frames one at a time, each after the frame worker finished the previous one."""
    camera = ros.publisher(Image, "image")
    ros.wait_matched(camera)
    done = node.counters.get("processed", 0)
    for index, msg in enumerate(frames):
        camera.publish(msg)
        assert ros.wait_for(lambda n=done + index + 1: node.counters["processed"] >= n), "frame not processed"
    if wait_for_clips:
        assert node.wait_idle(10.0)


def stamp(time_msg) -> float:
    return time_msg.sec + time_msg.nanosec * 1e-9


def test_clips_are_sampled_by_stamp_at_the_model_rate_and_published_with_their_span(ros, model_file):
    recognizer = MotionRecognizer()
    node = start(ros, {"model_path": str(model_file), "stride_s": 0.2}, fake_factory(recognizer))
    signs = ros.collect(SignLabel, "sign")
    play(ros, node, motion(30))  # 1 s at 30 Hz
    assert ros.wait_for(lambda: len(signs) == 3)
    # 10 Hz from the model's metadata: every third camera frame, 5 per 0.4 s clip, one clip per 0.2 s.
    expected_shift = SPEED_PX_S / MODEL_HZ * SCALE
    assert len(recognizer.clips) == 3
    for xs in recognizer.clips:
        assert len(xs) == 5
        assert np.allclose(np.diff(xs), expected_shift, atol=0.05), xs
    assert [round(stamp(s.clip_end) - START_S, 3) for s in signs] == [0.4, 0.6, 0.8]
    first = signs[0]
    assert stamp(first.clip_start) == pytest.approx(START_S, abs=1e-6)
    assert (first.header.stamp.sec, first.header.stamp.nanosec) == (
        first.clip_end.sec,
        first.clip_end.nanosec,
    )
    assert first.header.frame_id == "camera"
    assert first.label == RIGHT and first.score == pytest.approx(0.9)
    assert list(first.top_labels) == [RIGHT, IDLE, LEFT]
    assert np.allclose(first.top_scores, [0.9, 0.05, 0.05])
    assert first.model_id == "motion@test"
    counters = node.counters
    assert (counters["frames_buffered"], counters["clips_run"], counters["clips_published"]) == (10, 3, 3)
    assert counters["buffer_resets"] == 0 and counters["dropped"] == 0


def test_a_stamp_gap_resets_the_buffer_and_no_clip_spans_it(ros, model_file):
    recognizer = MotionRecognizer()
    params = {"model_path": str(model_file), "stride_s": 0.2, "sample_rate_hz": 15.0, "top_k": 2}
    node = start(ros, params, fake_factory(recognizer))
    signs = ros.collect(SignLabel, "sign")
    left = motion(20, velocity=-SPEED_PX_S, x0=40.0)
    resumed_s = START_S + 20 / CAMERA_HZ + 2.0  # the camera stopped for 2 s
    right = motion(20, start_s=resumed_s)
    play(ros, node, left + right)
    assert ros.wait_for(lambda: len(signs) == node.counters["clips_run"] and signs)
    assert node.counters["buffer_resets"] == 1
    for sign in signs:
        before = stamp(sign.clip_end) < resumed_s
        assert (stamp(sign.clip_start) < resumed_s) == before, "a clip spans the gap"
        assert sign.label == (LEFT if before else RIGHT)
        assert len(sign.top_labels) == len(sign.top_scores) == 2
    assert {s.label for s in signs} == {LEFT, RIGHT}
    assert all(len(xs) == 7 for xs in recognizer.clips)  # 15 Hz over 0.4 s: every other camera frame
    assert min(stamp(s.clip_start) for s in signs if s.label == RIGHT) == pytest.approx(resumed_s, abs=1e-6)


def test_unsure_and_background_clips_publish_nothing_until_the_parameters_allow(ros, model_file):
    recognizer = MotionRecognizer(confidence=0.5)
    node = start(ros, {"model_path": str(model_file), "stride_s": 0.2}, fake_factory(recognizer))
    signs = ros.collect(SignLabel, "sign")

    def segment(index: int, velocity: float) -> None:
        """Half a second of camera, 2 s after the previous one (a fresh buffer): one clip."""
        play(ros, node, motion(15, start_s=START_S + 2.0 * index, velocity=velocity))

    segment(0, SPEED_PX_S)  # moving, but 0.5 < the model's min_score 0.6
    segment(1, 0.0)  # still: the background class
    assert (node.counters["clips_run"], node.counters["clips_published"]) == (2, 0)
    assert node.set_parameters([Parameter("min_score", value=0.4)])[0].successful
    segment(2, SPEED_PX_S)
    assert ros.wait_for(lambda: signs) and [s.label for s in signs] == [RIGHT]
    assert node.set_parameters([Parameter("background_class", value="")])[0].successful
    segment(3, 0.0)
    assert ros.wait_for(lambda: len(signs) == 2) and signs[1].label == IDLE
    assert node.counters["buffer_resets"] == 3


def test_a_slow_clip_model_does_not_stop_the_frame_worker_buffering(ros, model_file):
    recognizer = MotionRecognizer(delay_s=0.3)
    node = start(ros, {"model_path": str(model_file), "stride_s": 0.1}, fake_factory(recognizer))
    play(ros, node, motion(45), wait_for_clips=False)  # frames arrive while clips are running
    counters = node.counters
    assert counters["dropped"] == 0 and counters["frames_buffered"] == 15
    assert node.wait_idle(10.0)
    counters = node.counters
    assert counters["clips_dropped"] > 0  # a newer clip replaced a waiting one: nothing queued
    assert counters["clips_run"] + counters["clips_dropped"] == 11  # a clip per kept frame once full


def test_a_sign_artifact_loads_with_its_clip_format_and_calibrated_threshold(ros, tmp_path):
    torch.manual_seed(0)
    spec = VideoModelSpec("x3d_xs", num_frames=4, crop_size=32, sampling_rate=12)
    classes = [LEFT, RIGHT]
    model = build_video_model("x3d_xs", len(classes), dropout=0.0)
    metadata = {**sign_metadata(spec, classes, ["left", "right"], clip_duration=0.3), "min_score": 0.01}
    artifact = save_artifact(tmp_path / "tiny_sign.safetensors", model.state_dict(), metadata)
    node = start(ros, {"model_path": str(artifact), "device": "cpu", "stride_s": 0.3}, None)
    assert node.model.frame_rate_hz == pytest.approx(10.0)  # 3 intervals over 0.3 s
    assert (node.model.input_size, node.model.min_score) == (32, 0.01)
    signs = ros.collect(SignLabel, "sign")
    play(ros, node, motion(10))
    assert ros.wait_for(lambda: signs, 20.0), "no sign published"
    sign = signs[0]
    assert sign.model_id.startswith("tiny_sign.safetensors@") and sign.label in classes
    assert sorted(sign.top_labels) == sorted(classes) and sign.top_scores[0] >= sign.top_scores[1]
    assert stamp(sign.clip_end) - stamp(sign.clip_start) == pytest.approx(0.3, abs=1e-3)


def test_a_calibrated_sign_artifact_marks_each_label_with_its_clips_domain(ros, tmp_path):
    torch.manual_seed(0)
    spec = VideoModelSpec("x3d_xs", num_frames=4, crop_size=32, sampling_rate=12)
    model = build_video_model("x3d_xs", 2, dropout=0.0)
    dataset = {"generator": SIGN_GENERATOR, "seed": 0, "videos": 1, "sizes": "64x48"}
    metadata = {**sign_metadata(spec, [LEFT, RIGHT], ["left", "right"], 0.3), "min_score": 0.01}
    artifact = save_artifact(
        tmp_path / "sign.safetensors", model.state_dict(), {**metadata, "dataset": dataset}
    )
    calibrate_artifact(artifact, fit=8, calibration=8)
    node = start(ros, {"model_path": str(artifact), "device": "cpu", "stride_s": 0.3}, None)
    signs = ros.collect(SignLabel, "sign")

    play(ros, node, motion(10))
    assert ros.wait_for(lambda: signs, 20.0), "no sign published"
    # this camera's 64x48 frames are under frame_min_side: out of domain whatever the model says
    assert all(not s.in_domain and s.domain_score >= 120 / 48 for s in signs)
    assert node.domain.scored == node.counters["clips_run"] == node.domain.quality_failed > 0
    assert node.domain.latest.reason == "too small: short side 48 px < 120 px"
    assert node.extra_counters()["out_of_domain_reason"] == node.domain.latest.reason

    checks_off = [Parameter("frame_min_side", value=0), Parameter("frame_min_sharpness", value=0.0)]
    assert all(result.successful for result in node.set_parameters(checks_off))
    published = len(signs)
    play(ros, node, motion(10, start_s=START_S + 10.0))
    assert ros.wait_for(lambda: len(signs) > published, 20.0)
    label = signs[-1]  # the model's own distance decides now
    assert label.domain_score >= 0.0 and label.in_domain == (label.domain_score <= 1.0)
    assert node.domain.latest.reason == ""
