"""LifecycleNode base for "image in -> model -> messages out" nodes.

A concrete node declares a parameter spec (a dataclass extending ``ImageNodeParameters``),
and implements three methods:

- ``load_model(params)``: build the model (called in configure; raise to fail configure),
- ``create_outputs(params)``: create publishers with ``self.create_output(...)``,
- ``process_frame(frame, context)``: run the model on a decoded BGR frame and publish.

The base does the rest: declares/validates parameters, subscribes on activate (raw ``image``
or ``image/compressed``), hands frames to a latest-frame worker thread (the subscription
callback only enqueues, so the executor never blocks on inference), decodes on the worker,
skips bad frames with a logged reason, throttles to ``max_rate_hz``, reports counters on
/diagnostics, offers ``~/enable`` (std_srvs/SetBool), and tears everything down on
deactivate/cleanup/shutdown/error.

Two-input nodes override ``on_image`` (e.g. keep images in a ``StampCache``), subscribe their
other input in ``create_inputs`` with ``self.create_input(...)``, and call ``self.submit(image,
context)`` when both halves of a frame are there; ``context`` reaches ``process_frame``.
"""

from __future__ import annotations

import dataclasses
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np
from rcl_interfaces.msg import SetParametersResult
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.publisher import Publisher
from rclpy.qos import QoSProfile
from rclpy.subscription import Subscription
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header
from std_srvs.srv import SetBool

from perception.core.images import ImageConversionError, compressed_to_numpy, image_to_numpy, to_bgr8
from perception.nodes.framework.diagnostics import DiagnosticsReporter
from perception.nodes.framework.latest_frame import LatestFrameWorker
from perception.nodes.framework.parameters import (
    ParameterError,
    declare_parameters,
    param,
    read_parameters,
    validate_change,
)
from perception.nodes.framework.qos import RELIABILITY_CHOICES, image_qos, output_qos

ParamsT = TypeVar("ParamsT", bound="ImageNodeParameters")
ModelT = TypeVar("ModelT")

IMAGE_TOPIC = "image"
COMPRESSED_SUFFIX = "/compressed"
LOG_THROTTLE_S = 5.0

# compressed_to_numpy returns what cv2.imdecode gives: BGR, BGRA or mono (8 or 16 bit).
_DECODED_ENCODINGS = {
    (1, np.uint8): "mono8",
    (1, np.uint16): "mono16",
    (3, np.uint8): "bgr8",
    (4, np.uint8): "bgra8",
}


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


@dataclass(frozen=True)
class StartupParameters:
    """Read when the node is constructed, before any lifecycle transition."""

    autostart: bool = param(
        True, "configure and activate on start (set false under a lifecycle manager)", read_only=True
    )


@dataclass(frozen=True)
class Frame:
    """A decoded input frame: BGR pixels (read-only view possible) and the source header."""

    bgr: np.ndarray
    header: Header
    encoding: str

    @property
    def width(self) -> int:
        return int(self.bgr.shape[1])

    @property
    def height(self) -> int:
        return int(self.bgr.shape[0])


@dataclass(frozen=True)
class _Job:
    image: Image | CompressedImage
    context: Any


def decode_image(msg: Image | CompressedImage) -> Frame:
    """BGR pixels of a raw or compressed image message; ImageConversionError if it is bad."""
    if isinstance(msg, CompressedImage):
        pixels = compressed_to_numpy(msg)
        channels = 1 if pixels.ndim == 2 else pixels.shape[2]
        encoding = _DECODED_ENCODINGS.get((channels, pixels.dtype.type), "")
        if not encoding:
            raise ImageConversionError(
                f"compressed image decoded to {pixels.shape} {pixels.dtype}; expected 8-bit BGR/BGRA or mono"
            )
    else:
        encoding = str(msg.encoding)
        pixels = image_to_numpy(msg)
    return Frame(bgr=to_bgr8(pixels, encoding), header=msg.header, encoding=encoding)


class ImageModelNode(LifecycleNode, ABC, Generic[ParamsT, ModelT]):
    """Lifecycle image node base; see the module docstring for what subclasses implement."""

    parameters_spec: ClassVar[type[ImageNodeParameters]] = ImageNodeParameters

    def __init__(
        self,
        node_name: str,
        *,
        model_factory: Callable[[ParamsT], ModelT] | None = None,
        **node_kwargs: Any,
    ) -> None:
        """``model_factory`` replaces ``load_model`` (a seam for tests and embedding)."""
        super().__init__(node_name, **node_kwargs)
        self._model_factory = model_factory or self.load_model
        self.params: ParamsT | None = None
        self.model: ModelT | None = None
        self._configured = False
        self._finalized = False
        self._enabled = True
        self._worker: LatestFrameWorker[_Job] | None = None
        self._diagnostics: DiagnosticsReporter | None = None
        self._inputs: list[Subscription] = []
        self._outputs: list[Publisher] = []
        self._last_accepted = 0.0
        self._counts = {"bad_frames": 0, "throttled": 0, "disabled": 0}
        # Parameters whose params-file value was rejected; configure fails until they are set.
        self._unfixed: dict[str, ParameterError] = {}
        # Declared at construction (unlike the spec, declared at configure): main() needs it first.
        if rejected := declare_parameters(self, StartupParameters):
            raise next(iter(rejected.values()))
        self.startup = read_parameters(self, StartupParameters)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.create_service(SetBool, "~/enable", self._on_enable)

    # ----------------------------------------------------------- to implement
    @abstractmethod
    def load_model(self, params: ParamsT) -> ModelT:
        """Build the model from validated parameters; raise with a clear message on failure."""

    @abstractmethod
    def create_outputs(self, params: ParamsT) -> None:
        """Create this node's publishers with ``self.create_output``."""

    @abstractmethod
    def process_frame(self, frame: Frame, context: Any) -> None:
        """Run the model on one frame and publish; runs on the worker thread."""

    def check_parameters(self, params: ParamsT, model: ModelT) -> None:
        """Checks that need the model (e.g. class names); raise to fail configure or a live change."""

    def create_inputs(self, params: ParamsT) -> None:
        """Subscribe extra inputs with ``self.create_input`` (default: none)."""

    def on_image(self, msg: Image | CompressedImage) -> None:
        """Called for every accepted image; the default hands it straight to the worker."""
        self.submit(msg)

    def extra_counters(self) -> Mapping[str, int]:
        """More values for /diagnostics (two-input nodes add pairing counts)."""
        return {}

    # ------------------------------------------------------------ for subclasses
    def create_output(self, msg_type: type, topic: str, qos: QoSProfile | None = None) -> Publisher:
        """A lifecycle publisher (silent until activate), destroyed on cleanup."""
        publisher = self.create_lifecycle_publisher(msg_type, topic, qos or output_qos())
        self._outputs.append(publisher)
        return publisher

    def create_input(
        self, msg_type: type, topic: str, callback: Callable[[Any], None], qos: QoSProfile
    ) -> None:
        """A subscription that lives while the node is active."""
        self._inputs.append(self.create_subscription(msg_type, topic, callback, qos))

    def submit(self, image: Image | CompressedImage, context: Any = None) -> None:
        """Queue a frame for the worker (replacing a waiting one)."""
        if self._worker is not None:
            self._worker.submit(_Job(image, context))

    @property
    def counters(self) -> dict[str, int | float]:
        """Worker counters plus bad/throttled/disabled frame counts, as on /diagnostics."""
        worker = dataclasses.asdict(self._worker.counters) if self._worker else {}
        return {**worker, **self._counts, **self.extra_counters()}

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until the worker has no frame waiting or running (tests, shutdown)."""
        return self._worker is None or self._worker.wait_idle(timeout)

    def autostart(self) -> bool:
        """Configure then activate; True when the node ended active."""
        return (
            self.trigger_configure() == TransitionCallbackReturn.SUCCESS
            and self.trigger_activate() == TransitionCallbackReturn.SUCCESS
        )

    @property
    def finalized(self) -> bool:
        return self._finalized

    def teardown(self) -> None:
        """Stop inputs and the worker, drop outputs and the model (idempotent).

        The shutdown transition calls it; after Ctrl-C the context is gone and transitions
        cannot publish their events, so ``run_node`` calls it directly instead.
        """
        self._stop_inputs()
        self._release()
        self._finalized = True

    # ------------------------------------------------------------- lifecycle
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self._unfixed.update(declare_parameters(self, self.parameters_spec))
            if self._unfixed:
                raise next(iter(self._unfixed.values()))
            params = read_parameters(self, self.parameters_spec)
            model = self._model_factory(params)
            self.check_parameters(params, model)
        except Exception as error:  # any load failure must leave us re-configurable
            self.get_logger().error(f"configure failed: {error}")
            return TransitionCallbackReturn.FAILURE
        self.params, self.model = params, model
        self.create_outputs(params)
        self._configured = True
        self.get_logger().info(f"configured: {params}")
        return super().on_configure(state)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        result = super().on_activate(state)
        params = self.params
        self._worker = LatestFrameWorker(
            self._process_job, f"{self.get_name()}_worker", self._on_worker_error
        )
        if params.compressed_input:
            msg_type, topic = CompressedImage, IMAGE_TOPIC + COMPRESSED_SUFFIX
        else:
            msg_type, topic = Image, IMAGE_TOPIC
        qos = image_qos(params.image_reliability, params.image_queue_depth)
        self.create_input(msg_type, topic, self._on_image_msg, qos)
        self.create_inputs(params)
        self._diagnostics = DiagnosticsReporter(
            self, lambda: self._worker.counters, self._diagnostic_extras, params.diagnostics_period_s
        )
        self.get_logger().info(
            f"active: subscribed to {self.resolve_topic_name(topic)} ({msg_type.__name__})"
        )
        return result

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_inputs()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        return super().on_cleanup(state)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.teardown()
        return super().on_shutdown(state)

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.get_logger().error(f"error during transition from {state.label}; tearing down to unconfigured")
        self._stop_inputs()
        self._release()
        return TransitionCallbackReturn.SUCCESS

    # -------------------------------------------------------------- internals
    def _stop_inputs(self) -> None:
        for subscription in self._inputs:
            self.destroy_subscription(subscription)
        self._inputs.clear()
        if self._diagnostics is not None:
            self._diagnostics.destroy()
            self._diagnostics = None
        if self._worker is not None:
            self._worker.stop()
            self._worker = None

    def _release(self) -> None:
        for publisher in self._outputs:
            self.destroy_lifecycle_publisher(publisher)
        self._outputs.clear()
        self.model = None
        self._configured = False

    def _diagnostic_extras(self) -> dict[str, int]:
        return {**self._counts, **self.extra_counters()}

    def _on_image_msg(self, msg: Image | CompressedImage) -> None:
        if not self._enabled:
            self._counts["disabled"] += 1
            return
        max_rate = self.params.max_rate_hz
        now = time.monotonic()
        if max_rate > 0.0 and now - self._last_accepted < 1.0 / max_rate:
            self._counts["throttled"] += 1
            return
        self._last_accepted = now
        self.on_image(msg)

    def _process_job(self, job: _Job) -> None:
        self.process_frame(decode_image(job.image), job.context)

    def _on_worker_error(self, error: BaseException) -> None:
        if isinstance(error, ImageConversionError):
            self._counts["bad_frames"] += 1
            self.get_logger().warning(f"skipping bad frame: {error}", throttle_duration_sec=LOG_THROTTLE_S)
        else:
            self.get_logger().error(
                f"processing a frame failed: {type(error).__name__}: {error}",
                throttle_duration_sec=LOG_THROTTLE_S,
            )

    def _on_set_parameters(self, parameters: Sequence[Parameter]) -> SetParametersResult:
        try:
            changes = validate_change(self.parameters_spec, parameters, self._configured)
        except ParameterError as error:
            return SetParametersResult(successful=False, reason=str(error))
        for name in changes:
            self._unfixed.pop(name, None)
        if self._configured and changes:
            updated = dataclasses.replace(self.params, **changes)
            try:
                self.check_parameters(updated, self.model)
            except Exception as error:  # the model's own error types; report them as the reason
                return SetParametersResult(successful=False, reason=str(error))
            self.params = updated
        return SetParametersResult(successful=True)

    def _on_enable(self, request: SetBool.Request, response: SetBool.Response) -> SetBool.Response:
        self._enabled = bool(request.data)
        response.success = True
        response.message = (
            "processing enabled" if self._enabled else "processing disabled; frames are ignored"
        )
        self.get_logger().info(response.message)
        return response
