"""Model nodes and the out-of-domain score (issue 15), in-process.

Each node marks its output with the frame's ``domain_score`` and ``in_domain`` and reports the
latest score and the run of out-of-domain frames on /diagnostics, warning once
``ood_warn_frames`` came in a row. The detector and caption doubles call a bright frame out of
domain; the glass node runs a real ``Classifier`` with domain statistics fitted on one colour.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rclpy.parameter import Parameter
from sensor_msgs.msg import Image
from torch import nn

from perception.core.classifier import Classifier, Preprocessing
from perception.core.detections import Detection
from perception.core.domain import DomainStatistics, DomainVerdict
from perception.core.glass import GlassClassifier
from perception.core.images import numpy_to_image
from perception.nodes.caption_node import CaptionNode, LoadedCaptioner
from perception.nodes.detector_node import DetectorNode
from perception.nodes.framework.conversions import detection_array_msg
from perception.nodes.glass_node import GlassNode
from perception.nodes.topics import DIAGNOSTICS_TOPIC
from perception_msgs.msg import Caption, DetectionArray, GlassClassificationArray
from perception_msgs.srv import CaptionImage

DARK, BRIGHT = 20, 230
IN_SCORE, OUT_SCORE = 0.4, 3.5


def verdict_of(image_bgr: np.ndarray) -> DomainVerdict:
    """The doubles' domain rule: a bright frame is unlike their 'training data'."""
    out = float(image_bgr.mean()) > 127
    return DomainVerdict(OUT_SCORE, False) if out else DomainVerdict(IN_SCORE, True)


class BrightOutDetector:
    model_id = "bright-out@test"
    class_names = ("cup",)
    imgsz = 64

    def __init__(self) -> None:
        self.verdict = DomainVerdict(-1.0, True)

    def detect(
        self, bgr: np.ndarray, conf: float, iou: float, classes: Sequence[str] | None
    ) -> list[Detection]:
        self.verdict = verdict_of(bgr)
        return [Detection(0, "cup", 0.9, 1.0, 1.0, 10.0, 10.0)]

    def class_ids(self, names: Sequence[str]) -> list[int]:
        return [0 for _ in names]

    def domain_verdict(self) -> DomainVerdict:
        return self.verdict


class BrightOutCaptioner:
    def __init__(self) -> None:
        self.verdicts: list[DomainVerdict] = []

    def caption(self, image_bgr: np.ndarray) -> tuple[str, float]:
        self.verdicts.append(verdict_of(image_bgr))
        return "a knife on a table", 0.8

    def domain_verdicts(self) -> list[DomainVerdict]:
        taken, self.verdicts = self.verdicts, []
        return taken


def frame(level: int, sec: int) -> Image:
    msg = numpy_to_image(np.full((48, 64, 3), level, np.uint8), "bgr8")
    msg.header.frame_id = "camera"
    msg.header.stamp.sec = sec
    return msg


def node_params(model_file, **extra) -> list[Parameter]:
    """The test frames are tiny and flat: the frame-quality check is off unless a test sets it."""
    values = {
        "model_path": str(model_file),
        "diagnostics_period_s": 0.2,
        "ood_warn_frames": 3,
        "frame_min_side": 0,
        "frame_min_sharpness": 0.0,
        **extra,
    }
    return [Parameter(k, value=v) for k, v in values.items()]


def latest_status(diagnostics: list[DiagnosticArray], node_name: str) -> DiagnosticStatus | None:
    mine = [s for array in diagnostics for s in array.status if s.hardware_id.endswith(node_name)]
    return mine[-1] if mine else None


def values(status: DiagnosticStatus | None) -> dict[str, str]:
    return {kv.key: kv.value for kv in status.values} if status is not None else {}


def level(status: DiagnosticStatus | None) -> bytes | None:
    return status.level if status is not None else None


def send_and_wait(ros, publisher, outputs: list, msg: Image) -> None:
    count = len(outputs)
    publisher.publish(msg)
    assert ros.wait_for(lambda: len(outputs) == count + 1), "the node published nothing for the frame"


def test_detector_marks_detections_and_warns_after_consecutive_out_of_domain_frames(ros, model_file) -> None:
    node = ros.add(
        DetectorNode(
            context=ros.context,
            parameter_overrides=node_params(model_file),
            model_factory=lambda params: BrightOutDetector(),
        )
    )
    assert node.autostart()
    outputs = ros.collect(DetectionArray, "detections")
    diagnostics = ros.collect(DiagnosticArray, DIAGNOSTICS_TOPIC)
    images = ros.publisher(Image, "image")
    ros.wait_matched(images)

    send_and_wait(ros, images, outputs, frame(DARK, 1))
    assert (outputs[-1].in_domain, outputs[-1].domain_score) == (True, np.float32(IN_SCORE))
    for sec in (2, 3):
        send_and_wait(ros, images, outputs, frame(BRIGHT, sec))
    assert (outputs[-1].in_domain, outputs[-1].domain_score) == (False, np.float32(OUT_SCORE))
    assert ros.wait_for(
        lambda: values(latest_status(diagnostics, "detector_node")).get("out_of_domain_streak") == "2"
    )
    assert level(latest_status(diagnostics, "detector_node")) == DiagnosticStatus.OK  # 2 < ood_warn_frames

    send_and_wait(ros, images, outputs, frame(BRIGHT, 4))
    assert ros.wait_for(lambda: level(latest_status(diagnostics, "detector_node")) == DiagnosticStatus.WARN)
    warned = latest_status(diagnostics, "detector_node")
    assert "3 consecutive frames out of the model's training domain" in warned.message
    assert values(warned)["domain_score"] == f"{OUT_SCORE:.3f}" and values(warned)["in_domain"] == "false"

    send_and_wait(ros, images, outputs, frame(DARK, 5))  # back in domain: the run is over
    assert ros.wait_for(lambda: level(latest_status(diagnostics, "detector_node")) == DiagnosticStatus.OK)
    assert values(latest_status(diagnostics, "detector_node"))["out_of_domain"] == "3"


def textured(sec: int, height: int, width: int, sigma: float = 0.0) -> Image:
    """A dark frame of random blocks (in domain for the doubles), blurred by ``sigma`` if > 0."""
    blocks = np.random.default_rng(0).integers(0, 100, (height // 8, width // 8, 3), dtype=np.uint8)
    pixels = cv2.resize(blocks, (width, height), interpolation=cv2.INTER_NEAREST)
    msg = numpy_to_image(cv2.GaussianBlur(pixels, (0, 0), sigma) if sigma else pixels, "bgr8")
    msg.header.stamp.sec = sec
    return msg


def test_a_frame_too_blurred_or_too_small_is_out_of_domain_and_diagnostics_say_why(ros, model_file) -> None:
    params = node_params(model_file, frame_min_side=120, frame_min_sharpness=20.0)
    node = ros.add(
        DetectorNode(
            context=ros.context, parameter_overrides=params, model_factory=lambda params: BrightOutDetector()
        )
    )
    assert node.autostart()
    outputs = ros.collect(DetectionArray, "detections")
    diagnostics = ros.collect(DiagnosticArray, DIAGNOSTICS_TOPIC)
    images = ros.publisher(Image, "image")
    ros.wait_matched(images)

    send_and_wait(ros, images, outputs, textured(1, 240, 320))
    assert (outputs[-1].in_domain, outputs[-1].domain_score) == (True, np.float32(IN_SCORE))
    send_and_wait(ros, images, outputs, textured(2, 240, 320, sigma=8.0))
    assert not outputs[-1].in_domain and outputs[-1].domain_score > 1.0
    assert ros.wait_for(
        lambda: (
            "blurred or featureless"
            in values(latest_status(diagnostics, "detector_node")).get("out_of_domain_reason", "")
        )
    )
    send_and_wait(ros, images, outputs, textured(3, 96, 128))
    assert not outputs[-1].in_domain and outputs[-1].domain_score == np.float32(120 / 96)
    assert ros.wait_for(
        lambda: (
            values(latest_status(diagnostics, "detector_node")).get("out_of_domain_reason")
            == "too small: short side 96 px < 120 px"
        )
    )
    send_and_wait(ros, images, outputs, textured(4, 240, 320, sigma=8.0))
    assert ros.wait_for(lambda: level(latest_status(diagnostics, "detector_node")) == DiagnosticStatus.WARN)
    warned = latest_status(diagnostics, "detector_node")
    assert "latest: blurred or featureless" in warned.message
    assert values(warned)["frame_quality_failed"] == "3" and values(warned)["out_of_domain"] == "3"


def test_caption_node_marks_each_caption_with_its_frames_domain(ros, model_file) -> None:
    captioner = BrightOutCaptioner()
    node = ros.add(
        CaptionNode(
            context=ros.context,
            parameter_overrides=node_params(model_file),
            model_factory=lambda params: LoadedCaptioner(captioner, "bright-out@test", "en"),
        )
    )
    assert node.autostart()
    captions = ros.collect(Caption, "caption")
    images = ros.publisher(Image, "image")
    ros.wait_matched(images)

    for sec, level in enumerate((DARK, BRIGHT, DARK), start=1):
        send_and_wait(ros, images, captions, frame(level, sec))
    assert [(c.header.stamp.sec, c.in_domain) for c in captions] == [(1, True), (2, False), (3, True)]
    assert [float(c.domain_score) for c in captions] == [
        float(np.float32(score)) for score in (IN_SCORE, OUT_SCORE, IN_SCORE)
    ]
    assert node.domain.out_of_domain == 1 and node.domain.streak == 0

    client = ros.io.create_client(CaptionImage, "caption_image")
    assert client.wait_for_service(timeout_sec=10.0)
    future = client.call_async(CaptionImage.Request(image=frame(BRIGHT, 9)))
    assert ros.wait_for(future.done, 10.0) and future.result().success
    answer = future.result().caption
    assert (answer.in_domain, answer.domain_score) == (False, np.float32(OUT_SCORE))
    assert node.domain.out_of_domain == 1, "a service request is not a frame of the stream"


def colour_net() -> nn.Module:
    """Features = the crop's mean normalised R, G, B (the input of the last Linear)."""
    return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(3, 3))


def test_glass_node_scores_its_farthest_crop_and_the_detectors_verdict(ros, model_file) -> None:
    # Statistics of a classifier that only ever saw blue-grey crops: unit covariance around the
    # features of such a crop, threshold 1 (distance in normalised-colour units).
    net = colour_net()
    probe = Classifier(net, ["cup", "beer_glass", "soju_glass"], Preprocessing(16), "cpu")
    tap = probe.domain_tap()
    probe.predict([np.full((20, 20, 3), (140, 110, 90), np.uint8)])
    mean = tap.take()[0].astype(np.float64)
    tap.remove()
    statistics = DomainStatistics(mean, np.eye(3), 1.0)

    def factory(params) -> GlassClassifier:
        classes = ["cup", "beer_glass", "soju_glass"]
        return GlassClassifier(Classifier(net, classes, Preprocessing(16), "cpu", statistics=statistics))

    node = ros.add(
        GlassNode(
            context=ros.context,
            parameter_overrides=node_params(model_file, padding=0.0),
            model_factory=factory,
        )
    )
    assert node.autostart()
    glasses = ros.collect(GlassClassificationArray, "glasses")
    images = ros.publisher(Image, "image")
    detections = ros.publisher(DetectionArray, "detections")
    ros.wait_matched(images)
    ros.wait_matched(detections)

    def send(
        sec: int, colours: Sequence[tuple[int, int, int]], detector: DomainVerdict | None = None
    ) -> GlassClassificationArray:
        image = np.full((60, 120, 3), 0, np.uint8)
        boxes = []
        for index, colour in enumerate(colours):
            image[10:50, 10 + 50 * index : 50 + 50 * index] = colour
            boxes.append(Detection(0, "cup", 0.9, 10.0 + 50 * index, 10.0, 50.0 + 50 * index, 50.0))
        msg = numpy_to_image(image, "bgr8")
        msg.header.stamp.sec = sec
        waiting = node.counters["images_waiting"]
        images.publish(msg)
        assert ros.wait_for(lambda: node.counters["images_waiting"] == waiting + 1)
        count = len(glasses)
        found = detection_array_msg(msg.header, boxes, 120, 60, "test-detector")
        if detector is not None:
            found.domain_score, found.in_domain = detector.score, detector.in_domain
        detections.publish(found)
        assert ros.wait_for(lambda: len(glasses) == count + 1)
        return glasses[-1]

    familiar = send(1, [(140, 110, 90)])
    assert familiar.in_domain and 0.0 <= familiar.domain_score < 0.05
    mixed = send(2, [(140, 110, 90), (0, 0, 255)])  # one saturated red crop: the frame is out
    assert not mixed.in_domain and mixed.domain_score > 1.0 and len(mixed.glasses) == 2
    empty = send(3, [])
    assert (empty.in_domain, float(empty.domain_score), list(empty.glasses)) == (True, -1.0, [])
    # familiar crops in a frame the detector judged out of its domain: the boxes are not trusted
    gated = send(4, [(140, 110, 90)], detector=DomainVerdict(2.5, False))
    assert not gated.in_domain and gated.domain_score == np.float32(2.5)
    assert node.domain.scored == 3 and node.domain.out_of_domain == 2
    assert torch.is_grad_enabled()  # the tap leaves torch's global state alone
