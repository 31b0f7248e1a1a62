"""Base for "image in -> model -> messages out" nodes, on top of ``ManagedNode``.

A concrete node declares a parameter spec (a dataclass extending ``ImageNodeParameters``),
and implements three methods:

- ``load_model(params)``: build the model (called in configure; raise to fail configure),
- ``create_outputs(params)``: create publishers with ``self.create_output(...)``,
- ``process_frame(frame, context)``: run the model on a decoded BGR frame and publish.

The base does the rest: parameters, model and teardown as ``ManagedNode`` does; on activate
it subscribes (raw ``image`` or ``image/compressed``) and hands frames to a latest-frame worker
thread (the subscription callback only enqueues, so the executor never blocks on inference),
decodes on the worker, skips bad frames with a logged reason, throttles to ``max_rate_hz``,
reports counters on /diagnostics, and offers ``~/enable`` (std_srvs/SetBool). In the
single-process container (``in_process``) it attaches to the process's one camera subscription
instead of subscribing itself; either way frames arrive as ``SharedImage`` (decoded at most once,
read-only) and go through the same checks, rate limit and worker.

Frames no camera sends are refused in the subscription callback, before they are queued or
decoded (the checks read only the message's declared size and encoding, not its pixels):
more than ``max_image_pixels`` (a compressed image's size is read from its header, so a
decompression bomb is never decoded), a short side under ``min_image_side``, an unsupported
encoding. Every received frame's stamp also feeds a ``StampGapEstimator``: frames lost
before the node (inside DDS) show as ``lost_in_transport`` on /diagnostics, with a warning
when more than ``lost_warn_fraction`` of the camera's frames went missing in a period.

Two-input nodes override ``on_image`` (e.g. keep images in a ``StampCache``), subscribe their
other input in ``create_inputs`` with ``self.create_input(...)``, and call ``self.submit(image,
context)`` when both halves of a frame are there; ``context`` reaches ``process_frame``.
"""

from __future__ import annotations

import dataclasses
import time
from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from diagnostic_msgs.msg import DiagnosticStatus
from sensor_msgs.msg import CompressedImage, Image
from std_srvs.srv import SetBool

from perception.core.images import (
    ImageConversionError,
    check_frame_size,
    compressed_dimensions,
    encoding_spec,
)
from perception.nodes.framework.conversions import stamp_seconds
from perception.nodes.framework.diagnostics import DiagnosticsReporter, PeriodSummary, Status
from perception.nodes.framework.frames import Frame as Frame  # re-exported: the nodes' import
from perception.nodes.framework.frames import SharedImage
from perception.nodes.framework.frames import decode_image as decode_image
from perception.nodes.framework.in_process import CameraAttachment
from perception.nodes.framework.latest_frame import LatestFrameWorker
from perception.nodes.framework.managed_node import ManagedNode, ModelT, ParamsT
from perception.nodes.framework.parameters import param
from perception.nodes.framework.qos import RELIABILITY_CHOICES, image_qos
from perception.nodes.framework.stamp_gaps import StampGapEstimator
from perception.nodes.topics import IMAGE, IMAGE_COMPRESSED

LOG_THROTTLE_S = 5.0
MAX_8K_PIXELS = 7680 * 4320
MIN_SIDE_FLOOR, MIN_SIDE_CEILING = 16, 64  # automatic min_image_side stays in this range [px]
WORKER_STOP_TIMEOUT_S = 0.5  # deactivate/Ctrl-C wait this long for a frame in flight, then discard it


@dataclass(frozen=True)
class ImageNodeParameters:
    """Parameters every image node has; node specs subclass this and add their own."""

    compressed_input: bool = param(
        False, "subscribe to sensor_msgs/CompressedImage on 'image/compressed' instead of raw 'image'"
    )
    image_reliability: str = param(
        "best_effort",
        "image subscription reliability: best_effort (cameras, sensor-data QoS) or reliable",
        choices=RELIABILITY_CHOICES,
    )
    image_queue_depth: int = param(1, "image subscription history depth", min_value=1, max_value=100)
    max_rate_hz: float = param(
        0.0,
        "process at most this many frames per second (0 = as fast as the model runs)",
        min_value=0.0,
        max_value=1000.0,
        live=True,
    )
    diagnostics_period_s: float = param(
        5.0,
        "how often counters are logged and published on /diagnostics [s]",
        min_value=0.1,
        max_value=3600.0,
    )
    max_image_pixels: int = param(
        MAX_8K_PIXELS,
        "refuse frames of more pixels than this (compressed: the size its header declares, checked "
        "before decoding); default 8K (7680x4320)",
        min_value=1,
        max_value=2**31 - 1,
    )
    min_image_side: int = param(
        0,
        "refuse frames whose short side is below this [px]; 0 = a quarter of the model's input size, "
        f"kept within {MIN_SIDE_FLOOR}-{MIN_SIDE_CEILING} px (a large input must not refuse a VGA camera)",
        min_value=0,
        max_value=8192,
    )
    lost_warn_fraction: float = param(
        0.1,
        "warn on /diagnostics when more than this fraction of the camera's frames (estimated from "
        "gaps in their header stamps) was lost before reaching the node in a period",
        min_value=0.0,
        max_value=1.0,
        live=True,
    )


@dataclass(frozen=True)
class _Job:
    image: SharedImage
    context: Any


def inspect_image(msg: Image | CompressedImage, max_pixels: int, min_side: int) -> None:
    """Refuse a frame by its declared size and encoding alone (cheap: no pixel is touched)."""
    if isinstance(msg, CompressedImage):
        width, height = compressed_dimensions(msg)
    else:
        encoding_spec(str(msg.encoding), f"image message ({msg.width}x{msg.height})")
        width, height = int(msg.width), int(msg.height)
    check_frame_size(width, height, max_pixels, min_side)


class ImageModelNode(ManagedNode[ParamsT, ModelT]):
    """Image node base; see the module docstring for what subclasses implement."""

    parameters_spec: ClassVar[type[ImageNodeParameters]] = ImageNodeParameters

    def __init__(self, node_name: str, **kwargs: Any) -> None:
        """``model_factory=`` (keyword) replaces ``load_model``, see ManagedNode."""
        super().__init__(node_name, **kwargs)
        self._enabled = True
        self._worker: LatestFrameWorker[_Job] | None = None
        self._diagnostics: DiagnosticsReporter | None = None
        self._last_accepted = 0.0
        self._counts = {"accepted": 0, "bad_frames": 0, "throttled": 0, "disabled": 0}
        self._gaps = StampGapEstimator()
        self._camera: CameraAttachment | None = None
        self.min_image_side = MIN_SIDE_FLOOR
        self.create_service(SetBool, "~/enable", self._on_enable)

    # ----------------------------------------------------------- to implement
    @abstractmethod
    def process_frame(self, frame: Frame, context: Any) -> None:
        """Run the model on one frame and publish; runs on the worker thread."""

    def on_image(self, image: SharedImage) -> None:
        """Called for every accepted image; the default hands it straight to the worker."""
        self.submit(image)

    def extra_counters(self) -> Mapping[str, int]:
        """More values for /diagnostics (two-input nodes add pairing counts)."""
        return {}

    def model_input_size(self, model: ModelT) -> int:
        """The model's input size [px], for the automatic min_image_side; 0 = unknown."""
        return 0

    def status_message(self, summary: PeriodSummary) -> Status | None:
        """A node-specific /diagnostics level and message for the period, or None for the default."""
        return None

    # ------------------------------------------------------------ for subclasses
    def submit(self, image: SharedImage, context: Any = None) -> None:
        """Queue a frame for the worker (replacing a waiting one)."""
        if self._worker is not None:
            self._worker.submit(_Job(image, context))

    @property
    def counters(self) -> dict[str, int | float]:
        """Worker counters plus bad/throttled/disabled/lost frame counts, as on /diagnostics."""
        worker = dataclasses.asdict(self._worker.counters) if self._worker else {}
        return {**worker, **self._diagnostic_extras()}

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until the worker has no frame waiting or running (tests, shutdown)."""
        return self._worker is None or self._worker.wait_idle(timeout)

    # ---------------------------------------------------------- activate/stop
    def start_inputs(self, params: ImageNodeParameters) -> None:
        automatic = min(max(MIN_SIDE_FLOOR, self.model_input_size(self.model) // 4), MIN_SIDE_CEILING)
        self.min_image_side = params.min_image_side or automatic
        self._worker = LatestFrameWorker(
            self._process_job, f"{self.get_name()}_worker", self._on_worker_error
        )
        if params.compressed_input:
            msg_type, topic = CompressedImage, IMAGE_COMPRESSED
        else:
            msg_type, topic = Image, IMAGE
        qos = image_qos(params.image_reliability, params.image_queue_depth)
        if self.in_process is not None:
            resolved = self.resolve_topic_name(topic)
            self._camera = self.in_process.camera.attach(self, msg_type, resolved, qos, self._on_image)
        else:
            self.create_input(msg_type, topic, lambda msg: self._on_image(SharedImage(msg)), qos)
        super().start_inputs(params)
        self._diagnostics = DiagnosticsReporter(
            self,
            lambda: self._worker.counters,
            self._diagnostic_extras,
            params.diagnostics_period_s,
            self._status,
        )
        self.get_logger().info(
            f"active: subscribed to {self.resolve_topic_name(topic)} ({msg_type.__name__})"
        )

    def stop_inputs(self) -> None:
        super().stop_inputs()
        if self._camera is not None:
            self.in_process.camera.detach(self._camera)
            self._camera = None
        if self._diagnostics is not None:
            self._diagnostics.destroy()
            self._diagnostics = None
        if self._worker is not None:
            self.stop_worker(self._worker, WORKER_STOP_TIMEOUT_S)
            self._worker = None

    # -------------------------------------------------------------- internals
    def _diagnostic_extras(self) -> dict[str, int]:
        gaps = self._gaps.counts
        return {
            **self._counts,
            "camera_frames": gaps.frames,
            "lost_in_transport": gaps.lost,
            "stream_outages": gaps.outages,
            "discarded_outputs": self.discarded_outputs,
            **self.extra_counters(),
        }

    def _status(self, summary: PeriodSummary) -> Status | None:
        seen, lost = summary.delta("camera_frames"), summary.delta("lost_in_transport")
        if not summary.new_failed and lost and lost > self.params.lost_warn_fraction * (seen + lost):
            return (
                DiagnosticStatus.WARN,
                f"{lost} of {seen + lost} camera frames ({100.0 * lost / (seen + lost):.0f} %) were lost "
                "before reaching the node (gaps in their stamps); see docs/transport.md",
            )
        return self.status_message(summary)

    def _on_image(self, image: SharedImage) -> None:
        self._gaps.observe(stamp_seconds(image.header.stamp))
        if not self._enabled:
            self._counts["disabled"] += 1
            return
        max_rate = self.params.max_rate_hz
        now = time.monotonic()
        if max_rate > 0.0 and now - self._last_accepted < 1.0 / max_rate:
            self._counts["throttled"] += 1
            return
        try:
            inspect_image(image.msg, self.params.max_image_pixels, self.min_image_side)
        except ImageConversionError as error:
            self._bad_frame(error)
            return
        self._last_accepted = now
        self._counts["accepted"] += 1
        self.on_image(image)

    def _process_job(self, job: _Job) -> None:
        self.process_frame(job.image.frame(), job.context)

    def _bad_frame(self, error: ImageConversionError) -> None:
        self._counts["bad_frames"] += 1
        self.get_logger().warning(f"skipping bad frame: {error}", throttle_duration_sec=LOG_THROTTLE_S)

    def _on_worker_error(self, error: BaseException) -> None:
        if isinstance(error, ImageConversionError):
            self._bad_frame(error)
        else:
            self.get_logger().error(
                f"processing a frame failed: {type(error).__name__}: {error}",
                throttle_duration_sec=LOG_THROTTLE_S,
            )

    def _on_enable(self, request: SetBool.Request, response: SetBool.Response) -> SetBool.Response:
        self._enabled = bool(request.data)
        response.success = True
        response.message = (
            "processing enabled" if self._enabled else "processing disabled; frames are ignored"
        )
        self.get_logger().info(response.message)
        return response
