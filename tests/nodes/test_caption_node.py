"""Caption node in-process: artifact loading, Caption messages, rate limit, bad input, CaptionImage.

Most tests inject ``BrightnessCaptioner`` through the ``model_factory`` seam (it names what
the test drew, so the plumbing is checked against known answers); one test loads a tiny
untrained artifact written through ``save_captioner``, the same path the trainer uses.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import torch
from rclpy.executors import MultiThreadedExecutor
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter
from sensor_msgs.msg import Image

from perception.core.caption_model import CaptionerConfig, CaptionModel
from perception.core.domain import DomainVerdict
from perception.core.images import numpy_to_image
from perception.core.text import Vocabulary
from perception.nodes.caption_node import CaptionNode, CaptionParameters, LoadedCaptioner
from perception.nodes.framework.model_path import resolve_model_path
from perception_msgs.msg import Caption
from perception_msgs.srv import CaptionImage
from perception_training.captioning.artifact import save_captioner

SUCCESS, FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE
DARK, BRIGHT = 20, 230


class BrightnessCaptioner:
    """'a bright scene' / 'a dark scene' by mean pixel value, after an optional delay."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.calls = 0

    def caption(self, image_bgr: np.ndarray) -> tuple[str, float]:
        time.sleep(self.delay_s)
        self.calls += 1
        bright = float(image_bgr.mean()) > 127
        return ("a bright scene", 0.9) if bright else ("a dark scene", 0.6)

    def domain_verdicts(self) -> list[DomainVerdict]:
        return []


def fake_factory(captioner: BrightnessCaptioner):
    """Like the node's loader: resolves model_path (a missing file fails), then 'loads'."""

    def factory(params: CaptionParameters) -> LoadedCaptioner:
        resolve_model_path(params.model_path)
        return LoadedCaptioner(captioner, "brightness@test", "en")

    return factory


def frame(level: int, sec: int, encoding: str = "bgr8", frame_id: str = "camera") -> Image:
    msg = numpy_to_image(np.full((48, 64, 3), level, np.uint8), encoding)
    msg.header.frame_id = frame_id
    msg.header.stamp.sec, msg.header.stamp.nanosec = sec, 250
    return msg


def make_node(ros, params: dict, factory=None, namespace: str = "") -> CaptionNode:
    return CaptionNode(
        model_factory=factory,
        context=ros.context,
        namespace=namespace,
        parameter_overrides=[Parameter(k, value=v) for k, v in params.items()],
    )


def start(ros, params: dict, factory=None, namespace: str = "") -> CaptionNode:
    node = ros.add(make_node(ros, params, factory, namespace))
    assert node.trigger_configure() == SUCCESS
    assert node.trigger_activate() == SUCCESS
    return node


def request(ros, service: str, image: Image, timeout: float = 10.0) -> CaptionImage.Response:
    client = ros.io.create_client(CaptionImage, service)
    assert client.wait_for_service(timeout_sec=timeout), f"{service} not offered"
    future = client.call_async(CaptionImage.Request(image=image))
    assert ros.wait_for(future.done, timeout), f"{service} did not answer"
    return future.result()


def tiny_artifact(path: Path) -> Path:
    """An untrained captioner small enough to load in a second, written like the trainer does."""
    vocabulary = Vocabulary.build([["a", "knife", "on", "a", "table"]] * 2)
    torch.manual_seed(0)
    model = CaptionModel(CaptionerConfig(len(vocabulary), embed_dim=8, hidden_dim=16, attention_dim=8))
    return save_captioner(
        path, model, vocabulary, tokenizer="english", language="en", image_size=64, max_len=6
    )


def test_artifact_loads_and_captions_carry_the_source_header(ros, tmp_path) -> None:
    artifact = tiny_artifact(tmp_path / "tiny_captioner.safetensors")
    node = start(ros, {"model_path": str(artifact), "device": "cpu"}, namespace="/robot")
    captions = ros.collect(Caption, "/robot/caption")
    camera = ros.publisher(Image, "/robot/image")
    ros.wait_matched(camera)
    camera.publish(frame(BRIGHT, sec=42, frame_id="front_camera"))
    assert ros.wait_for(lambda: captions, 20.0), "no caption published"
    caption = captions[0]
    assert (caption.header.stamp.sec, caption.header.stamp.nanosec) == (42, 250)
    assert caption.header.frame_id == "front_camera"
    assert caption.language == "en"
    assert caption.model_id.startswith("tiny_captioner.safetensors@")
    assert 0.0 < caption.score <= 1.0
    vocabulary = {"a", "knife", "on", "table", "<unk>"}
    assert set(caption.text.split()) <= vocabulary, caption.text
    assert node.counters["processed"] == 1


def test_bad_frames_are_skipped_and_the_next_good_one_is_captioned(ros, model_file) -> None:
    node = start(ros, {"model_path": str(model_file)}, fake_factory(BrightnessCaptioner()))
    captions = ros.collect(Caption, "caption")
    camera = ros.publisher(Image, "image")
    ros.wait_matched(camera)
    bad = frame(BRIGHT, sec=1)
    bad.encoding = "yuv_unknown"
    camera.publish(bad)
    assert ros.wait_for(lambda: node.counters.get("bad_frames") == 1)
    camera.publish(frame(DARK, sec=2, encoding="rgb8"))
    assert ros.wait_for(lambda: captions)
    got = [(c.header.stamp.sec, c.text, c.model_id) for c in captions]
    assert got == [(2, "a dark scene", "brightness@test")]


def test_max_rate_limits_how_often_frames_are_captioned(ros, model_file) -> None:
    captioner = BrightnessCaptioner()
    node = start(ros, {"model_path": str(model_file), "max_rate_hz": 2.0}, fake_factory(captioner))
    captions = ros.collect(Caption, "caption")
    camera = ros.publisher(Image, "image")
    ros.wait_matched(camera)
    sent = 0
    started = time.monotonic()
    while time.monotonic() - started < 1.2:
        sent += 1
        camera.publish(frame(BRIGHT, sec=sent))
        time.sleep(0.05)
    assert ros.wait_for(lambda: node.counters.get("received", 0) + node.counters["throttled"] >= sent - 1)
    node.wait_idle(5.0)
    # 1.2 s at 2 Hz: the first frame plus at most two more get through.
    assert 1 <= len(captions) <= 3, f"{len(captions)} captions from {sent} frames at max_rate_hz 2"
    assert node.counters["throttled"] >= sent - 4

    assert node.set_parameters([Parameter("max_rate_hz", value=0.0)])[0].successful
    before = len(captions)
    for index in range(3):
        camera.publish(frame(DARK, sec=100 + index))
        assert ros.wait_for(lambda n=before + index + 1: len(captions) >= n), "unthrottled frame lost"


def test_caption_image_service_answers_with_the_request_header(ros, model_file) -> None:
    node = ros.add(make_node(ros, {"model_path": str(model_file)}, fake_factory(BrightnessCaptioner())))
    inactive = request(ros, "caption_image", frame(BRIGHT, sec=5))
    assert not inactive.success and "not active" in inactive.message
    assert node.trigger_configure() == SUCCESS and node.trigger_activate() == SUCCESS

    answer = request(ros, "caption_image", frame(BRIGHT, sec=5, frame_id="hand_camera"))
    assert answer.success, answer.message
    assert answer.caption.text == "a bright scene"
    assert answer.caption.header.frame_id == "hand_camera" and answer.caption.header.stamp.sec == 5
    assert answer.caption.model_id == "brightness@test" and answer.caption.language == "en"

    empty = Image(encoding="bgr8")  # a request with no pixels at all
    refused = request(ros, "caption_image", empty)
    assert not refused.success and refused.message.startswith("cannot caption this image")

    wrong = frame(BRIGHT, sec=6)
    wrong.encoding = "yuv_unknown"
    refused = request(ros, "caption_image", wrong)
    assert not refused.success and "yuv_unknown" in refused.message


def test_a_slow_request_does_not_stop_image_callbacks_under_the_multithreaded_executor(ros, model_file):
    """main() spins on a MultiThreadedExecutor; the service has its own callback group."""
    captioner = BrightnessCaptioner(delay_s=1.0)
    node = make_node(ros, {"model_path": str(model_file)}, fake_factory(captioner))
    executor = MultiThreadedExecutor(num_threads=2, context=ros.context)
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    try:
        assert node.trigger_configure() == SUCCESS and node.trigger_activate() == SUCCESS
        camera = ros.publisher(Image, "image")
        ros.wait_matched(camera)
        client = ros.io.create_client(CaptionImage, "caption_image")
        assert client.wait_for_service(timeout_sec=10.0)
        future = client.call_async(CaptionImage.Request(image=frame(DARK, sec=1)))
        assert ros.wait_for(lambda: captioner.calls == 0 and node._model_lock.locked(), 5.0)
        received = node.counters["received"]
        for index in range(5):  # delivered to the node while the request is still being served
            camera.publish(frame(BRIGHT, sec=10 + index))
            time.sleep(0.05)
        assert ros.wait_for(lambda: node.counters["received"] > received, 0.8)
        assert not future.done()
        assert ros.wait_for(future.done, 10.0) and future.result().caption.text == "a dark scene"
    finally:
        node.trigger_shutdown()
        executor.shutdown(timeout_sec=5.0)
        spinner.join(5.0)
        node.destroy_node()
