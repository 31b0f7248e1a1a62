"""Sign node: camera image stream -> perception_msgs/SignLabel, one per recognised signed word.

Thin adapter over ``perception.core.sign_api.load_recognizer`` (torch for an artifact or a
TorchScript export, ONNX Runtime without torch for an ``.onnx``) on the shared TorchModelNode base,
with the clip path of ``framework.clip_buffer`` and two workers:

- the frame worker (the base's latest-frame worker) decodes each frame, keeps it in a ring
  when at least 1/``sample_rate_hz`` of stamp time passed since the last kept one
  (downscaled to the model's input size), and every ``stride_s`` of stamp time hands the
  newest ``clip_duration_s`` window to
- the clip worker (a second LatestFrameWorker), which runs the model and publishes. A newer
  clip replaces one still waiting, nothing queues; the frame worker keeps buffering at camera
  rate while a clip runs. (Running the model inline on the frame worker would make the base
  drop camera frames for the length of every clip, leaving holes in the ring.)

A stamp jump over ``max_gap_s`` or a stamp going backwards resets the ring: no clip spans a gap.
Output: ``sign`` (SignLabel: the word as the artifact names it (Korean), its score, the top-k
words and scores, clip_start / clip_end stamps, the header of the clip's last frame, model id)
only when the best word is at least ``min_score`` likely and is not ``background_class``,
marked with how unlike the training clips the clip was (``domain_score`` / ``in_domain``, from
the artifact's domain statistics, and out of domain when the clip's last frame is too small or
blurred to judge: docs/ood.md); every clip run counts on /diagnostics as the other model nodes'
frames do.
Run: ``ros2 run perception sign_node --ros-args --params-file config/jetson.yaml``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from diagnostic_msgs.msg import DiagnosticStatus

from perception.core.constants import MODELS_DIR_ENV
from perception.core.domain_verdict import DomainVerdict
from perception.core.frame_quality import FrameQuality
from perception.core.model_files import model_id
from perception.core.sign_api import SignPrediction, confident_word, load_recognizer
from perception.core.video_clips import downscale
from perception.nodes.framework.clip_buffer import (
    Clip,
    ClipBuffer,
    ClipBufferCounts,
    ClipTiming,
)
from perception.nodes.framework.conversions import copy_header, stamp_seconds
from perception.nodes.framework.diagnostics import PeriodSummary, Status
from perception.nodes.framework.domain_watch import DomainAwareNode, DomainParameters, mark_domain
from perception.nodes.framework.image_node import LOG_THROTTLE_S, WORKER_STOP_TIMEOUT_S, Frame
from perception.nodes.framework.latest_frame import LatestFrameWorker, WorkerCounters
from perception.nodes.framework.model_path import resolve_model_path
from perception.nodes.framework.onnx_backend import OnnxParameters, session_options
from perception.nodes.framework.parameters import param
from perception.nodes.framework.runner import run_node
from perception.nodes.framework.torch_node import TorchNodeParameters
from perception.nodes.topics import SIGN as SIGN_TOPIC
from perception_msgs.msg import SignLabel

NODE_NAME = "sign_node"
DEFAULT_MIN_SCORE = 0.6  # used when neither the parameter nor the artifact sets one
MIN_SCORE_KEY = "min_score"  # artifact metadata key of a calibrated threshold


class ClipRecognizer(Protocol):
    """What the node needs from a model: ``SignRecognizer`` and ``OnnxSignRecognizer`` fit, and so do
    test doubles."""

    classes: list[str]

    def predict(self, frames: Sequence[np.ndarray]) -> np.ndarray: ...

    def top_k(self, probabilities: np.ndarray, k: int) -> list[SignPrediction]: ...

    def domain_verdict(self) -> DomainVerdict:
        """The latest clip's verdict (UNSCORED for a model without domain statistics)."""
        ...


@dataclass(frozen=True)
class LoadedSign:
    """A recognizer plus the clip format and threshold its artifact declares."""

    recognizer: ClipRecognizer
    model_id: str
    frame_rate_hz: float  # the rate the model sees frames at
    clip_duration_s: float
    input_size: int  # kept frames are downscaled to this short side [px]
    min_score: float = DEFAULT_MIN_SCORE


@dataclass(frozen=True)
class _Job:
    """A clip and the quality of its last frame, measured on the full camera frame."""

    clip: Clip
    quality: FrameQuality


@dataclass(frozen=True)
class SignParameters(TorchNodeParameters, DomainParameters, OnnxParameters):
    """Everything the sign node reads; see config/*.yaml for the deployed values."""

    model_path: str = param(
        "sign/x3d_xs_sign.safetensors",
        "sign artifact (.safetensors) or our TorchScript export (on torch), or its .onnx export (on ONNX "
        f"Runtime, without torch), absolute or relative to ${MODELS_DIR_ENV}",
    )
    sample_rate_hz: float = param(
        0.0,
        "frames per second of stamp time kept for clips; 0 = the model's own rate (its frames over "
        "its clip duration, from the artifact)",
        min_value=0.0,
        max_value=120.0,
    )
    clip_duration_s: float = param(
        0.0, "stamp span of one clip [s]; 0 = the artifact's clip_duration", min_value=0.0, max_value=10.0
    )
    stride_s: float = param(
        0.25, "stamp time between two clips [s] (the inference rate)", min_value=0.01, max_value=60.0
    )
    max_gap_s: float = param(
        0.5,
        "a stamp jump longer than this (or stamps going backwards) resets the clip buffer [s]",
        min_value=0.01,
        max_value=60.0,
    )
    min_score: float = param(
        0.0,
        f"publish a word only at this probability or more; 0 = the artifact's calibrated "
        f"'{MIN_SCORE_KEY}', else {DEFAULT_MIN_SCORE}",
        min_value=0.0,
        max_value=1.0,
        live=True,
    )
    top_k: int = param(3, "words (and scores) listed in top_labels", min_value=1, max_value=100, live=True)
    background_class: str = param(
        "_idle_", "the model's no-sign class: a clip whose best word is it publishes nothing", live=True
    )


def load_sign(params: SignParameters) -> LoadedSign:
    """The artifact ``model_path`` names, identified as ``<file>@<sha256 prefix>`` like the detector."""
    path = resolve_model_path(params.model_path)
    recognizer = load_recognizer(path, params.device, session_options(params, params.cpu_threads))
    frames = recognizer.spec.num_frames
    return LoadedSign(
        recognizer=recognizer,
        model_id=model_id(path),
        # Training samples num_frames evenly over the clip, both ends included.
        frame_rate_hz=max(frames - 1, 1) / recognizer.clip_duration,
        clip_duration_s=recognizer.clip_duration,
        input_size=recognizer.spec.crop_size,
        min_score=float(recognizer.metadata.get(MIN_SCORE_KEY, DEFAULT_MIN_SCORE)),
    )


def clip_timing(params: SignParameters, model: LoadedSign) -> ClipTiming:
    """The parameters' clip timing, with 0 meaning the artifact's value; ValueError if unusable."""
    return ClipTiming(
        sample_rate_hz=params.sample_rate_hz or model.frame_rate_hz,
        clip_duration_s=params.clip_duration_s or model.clip_duration_s,
        stride_s=params.stride_s,
        max_gap_s=params.max_gap_s,
    )


class SignNode(DomainAwareNode[SignParameters, LoadedSign]):
    """Buffers frames by stamp and publishes the word signed in each confident clip."""

    parameters_spec = SignParameters

    def __init__(self, node_name: str = NODE_NAME, **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        self._buffer: ClipBuffer | None = None
        self._clip_worker: LatestFrameWorker[_Job] | None = None
        self._clips_published = 0

    def load_model(self, params: SignParameters) -> LoadedSign:
        return load_sign(params)

    def model_input_size(self, model: LoadedSign) -> int:
        return model.input_size

    def check_parameters(self, params: SignParameters, model: LoadedSign) -> None:
        clip_timing(params, model)
        classes = model.recognizer.classes
        if params.background_class and params.background_class not in classes:
            self.get_logger().warning(
                f"background_class {params.background_class!r} is not one of the model's classes "
                f"{classes}; every confident clip is published"
            )

    def create_outputs(self, params: SignParameters) -> None:
        self.sign_pub = self.create_output(SignLabel, SIGN_TOPIC)

    # ------------------------------------------------------------ frame worker
    def process_frame(self, frame: Frame, context: Any) -> None:
        size = self.model.input_size
        clip = self._buffer.add(
            stamp_seconds(frame.header.stamp), frame.header, lambda: downscale(frame.bgr, size)
        )
        if clip is not None:
            self._clip_worker.submit(_Job(clip, self.frame_quality(frame.bgr)))

    # ------------------------------------------------------------- clip worker
    def _process_clip(self, job: _Job) -> None:
        model, params, clip = self.model, self.params, job.clip
        recognizer = model.recognizer
        ranking = recognizer.top_k(recognizer.predict(clip.pixels), params.top_k)
        verdict = self.domain.observe(job.quality.applied_to(recognizer.domain_verdict()))
        best = confident_word(ranking, params.background_class, params.min_score or model.min_score)
        if best is None:
            return
        label = mark_domain(
            SignLabel(
                header=copy_header(clip.last.source),
                label=best.word,
                score=best.probability,
                top_labels=[p.word for p in ranking],
                top_scores=[p.probability for p in ranking],
                clip_start=copy_header(clip.first.source).stamp,
                clip_end=copy_header(clip.last.source).stamp,
                model_id=model.model_id,
            ),
            verdict,
        )
        self.sign_pub.publish(label)
        self._clips_published += 1

    def _on_clip_error(self, error: BaseException) -> None:
        self.get_logger().error(
            f"running a clip failed: {type(error).__name__}: {error}", throttle_duration_sec=LOG_THROTTLE_S
        )

    # ---------------------------------------------------------- activate/stop
    def start_inputs(self, params: SignParameters) -> None:
        self._buffer = ClipBuffer(clip_timing(params, self.model))
        self._clip_worker = LatestFrameWorker(
            self._process_clip, f"{self.get_name()}_clip_worker", self._on_clip_error
        )
        super().start_inputs(params)

    def stop_inputs(self) -> None:
        super().stop_inputs()
        if self._clip_worker is not None:
            self.stop_worker(self._clip_worker, WORKER_STOP_TIMEOUT_S)
            self._clip_worker = None

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no frame and then no clip is waiting or running (tests)."""
        frames_done = super().wait_idle(timeout)
        return frames_done and (self._clip_worker is None or self._clip_worker.wait_idle(timeout))

    # ------------------------------------------------------------- diagnostics
    def extra_counters(self) -> Mapping[str, Any]:
        buffered = self._buffer.counts if self._buffer else ClipBufferCounts()
        clips = self._clip_worker.counters if self._clip_worker else WorkerCounters()
        return {
            **super().extra_counters(),
            "frames_buffered": buffered.frames_buffered,
            "buffer_resets": buffered.buffer_resets,
            "clips_run": clips.processed,
            "clips_dropped": clips.dropped,
            "clips_failed": clips.failed,
            "clips_published": self._clips_published,
        }

    def status_message(self, summary: PeriodSummary) -> Status | None:
        if failed := summary.delta("clips_failed"):
            return DiagnosticStatus.WARN, f"{failed} clip(s) failed in the last period; see the log"
        return super().status_message(summary)


def main(args: Sequence[str] | None = None) -> None:
    run_node(SignNode, args)


if __name__ == "__main__":
    main()
