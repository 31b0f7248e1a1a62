"""Caption node: camera image -> perception_msgs/Caption, plus the CaptionImage service.

Thin adapter over ``perception.core.captioner.Captioner`` (or, for an ``.onnx`` model_path,
``perception.core.caption_onnx.OnnxCaptioner`` on ONNX Runtime without torch) on the shared
TorchModelNode base.
Inputs: ``image`` (sensor_msgs/Image) or ``image/compressed``, at most ``max_rate_hz``
frames per second (captions change slowly; the GPU has other work). Output: ``caption``
(header copied from the image, text, score, language, model id, and the frame's
``domain_score`` / ``in_domain``: docs/ood.md). Service: ``caption_image``
(perception_msgs/CaptionImage) captions a frame sent in the request.

The service runs in its own callback group, so under ``main()``'s MultiThreadedExecutor a
request never holds up image callbacks or lifecycle transitions. It shares the model with
the frame worker through a lock: a request waits for at most the one frame being captioned.
Under a single-threaded executor (as in-process tests use) a request blocks that executor
for one inference (tens of ms on a CPU).
Run: ``ros2 run perception caption_node --ros-args --params-file config/jetson.yaml``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.executors import MultiThreadedExecutor
from rclpy.lifecycle import LifecycleState, TransitionCallbackReturn

from perception.core import caption_api
from perception.core.constants import MODELS_DIR_ENV
from perception.core.domain_verdict import DomainVerdict, worst
from perception.core.images import ImageConversionError
from perception.core.model_files import model_id
from perception.nodes.framework.conversions import copy_header
from perception.nodes.framework.domain_watch import DomainAwareNode, DomainParameters, mark_domain
from perception.nodes.framework.image_node import (
    LOG_THROTTLE_S,
    Frame,
    decode_image,
    inspect_image,
)
from perception.nodes.framework.model_path import resolve_model_path
from perception.nodes.framework.onnx_backend import OnnxParameters, session_options
from perception.nodes.framework.parameters import param
from perception.nodes.framework.runner import run_node
from perception.nodes.framework.torch_node import TorchNodeParameters
from perception.nodes.topics import CAPTION, CAPTION_SERVICE
from perception_msgs.msg import Caption
from perception_msgs.srv import CaptionImage

NODE_NAME = "caption_node"
EXECUTOR_THREADS = 2  # one for image callbacks and transitions, one for CaptionImage requests


class FrameCaptioner(Protocol):
    """What the node needs from a model: ``Captioner`` and ``OnnxCaptioner`` fit, and so do test doubles."""

    def caption(self, image_bgr: Any) -> tuple[str, float]: ...

    def domain_verdicts(self) -> list[DomainVerdict]: ...


@dataclass(frozen=True)
class LoadedCaptioner:
    """A captioner plus what every Caption message says about it."""

    captioner: FrameCaptioner
    model_id: str
    language: str


@dataclass(frozen=True)
class CaptionParameters(TorchNodeParameters, DomainParameters, OnnxParameters):
    """Everything the caption node reads; see config/*.yaml for the deployed values."""

    model_path: str = param(
        "captioner/mnv3_gru_en.safetensors",
        "captioner artifact (.safetensors, on torch) or its export (.onnx, with its .decoder.onnx beside "
        f"it, on ONNX Runtime without torch), absolute or relative to ${MODELS_DIR_ENV}",
    )
    beam_size: int = param(
        1, "beam width of decoding; 1 = greedy (fastest), 3 = better captions", min_value=1, max_value=10
    )
    grounded: bool = param(
        True,
        "name the artifact's grounded words (e.g. knife, metadata 'grounding') only where its "
        "image-level concept head agrees; false = plain decoding",
    )


def load_captioner(params: CaptionParameters) -> LoadedCaptioner:
    """The artifact ``model_path`` names, identified as ``<file>@<sha256 prefix>`` like the detector."""
    path = resolve_model_path(params.model_path)
    captioner = caption_api.load_captioner(
        path,
        device=params.device,
        beam_size=params.beam_size,
        grounded=params.grounded,
        onnx=session_options(params, params.cpu_threads),
    )
    return LoadedCaptioner(captioner, model_id(path), str(captioner.metadata["language"]))


class CaptionNode(DomainAwareNode[CaptionParameters, LoadedCaptioner]):
    """Publishes a caption of every processed frame, marked with how unlike the training data the
    frame was (domain_score, in_domain), and answers CaptionImage requests."""

    parameters_spec = CaptionParameters

    def __init__(self, node_name: str = NODE_NAME, **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        self._model_lock = threading.Lock()
        self._serving = False
        self._service = self.create_service(
            CaptionImage,
            CAPTION_SERVICE,
            self._on_caption_request,
            callback_group=MutuallyExclusiveCallbackGroup(),
        )

    def load_model(self, params: CaptionParameters) -> LoadedCaptioner:
        return load_captioner(params)

    def model_input_size(self, model: LoadedCaptioner) -> int:
        return int(getattr(model.captioner, "image_size", 0))

    def create_outputs(self, params: CaptionParameters) -> None:
        self.caption_pub = self.create_output(Caption, CAPTION)

    def process_frame(self, frame: Frame, context: Any) -> None:
        caption, verdict = self._caption(self.model, frame)
        self.domain.observe(verdict)
        self.caption_pub.publish(caption)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        result = super().on_activate(state)
        self._serving = result == TransitionCallbackReturn.SUCCESS
        return result

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._serving = False
        return super().on_deactivate(state)

    def _caption(self, model: LoadedCaptioner, frame: Frame) -> tuple[Caption, DomainVerdict]:
        """The frame's caption, marked with its domain verdict, and the verdict (why it is out)."""
        with self._model_lock:
            text, score = model.captioner.caption(frame.bgr)
            verdict = self.judged(frame.bgr, worst(model.captioner.domain_verdicts()))
        caption = Caption(
            header=copy_header(frame.header),
            text=text,
            score=float(score),
            language=model.language,
            model_id=model.model_id,
        )
        return mark_domain(caption, verdict), verdict

    def _on_caption_request(
        self, request: CaptionImage.Request, response: CaptionImage.Response
    ) -> CaptionImage.Response:
        model = self.model  # cleanup/shutdown may drop it meanwhile; this request keeps its own
        if not self._serving or model is None:
            response.success = False
            response.message = "caption node is not active; configure and activate it first"
            return response
        try:
            inspect_image(request.image, self.params.max_image_pixels, self.min_image_side)
            response.caption, _ = self._caption(model, decode_image(request.image))
        except ImageConversionError as error:
            response.success = False
            response.message = f"cannot caption this image: {error}"
            self.get_logger().warning(response.message, throttle_duration_sec=LOG_THROTTLE_S)
            return response
        except Exception as error:  # a service callback that raises would take the node down
            response.success = False
            response.message = f"captioning failed: {type(error).__name__}: {error}"
            self.get_logger().error(response.message, throttle_duration_sec=LOG_THROTTLE_S)
            return response
        response.success = True
        return response


def main(args: Sequence[str] | None = None) -> None:
    run_node(CaptionNode, args, lambda: MultiThreadedExecutor(num_threads=EXECUTOR_THREADS))


if __name__ == "__main__":
    main()
