"""Glass node in-process: pairing by stamp, batched crops, outputs, bad input, parameters.

Most tests inject a real ``GlassClassifier`` whose network is ``ColourNet`` (the crop's mean
colour decides the type: red -> cup, green -> beer_glass, blue -> soju_glass) through the
``model_factory`` seam, so the node's cropping and pairing are checked against pixels the
test drew. One test loads a tiny untrained artifact through the real loading path; the last
one runs the demo artifact on synthetic glass scenes when it has been trained.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter
from sensor_msgs.msg import Image
from torch import nn
from visualization_msgs.msg import Marker, MarkerArray

from perception.core.artifacts import model_id, save_artifact
from perception.core.classifier import Classifier, Preprocessing, build_classifier
from perception.core.detections import Detection
from perception.core.glass import GlassClassifier, is_fragile
from perception.core.images import image_to_numpy, numpy_to_image
from perception.nodes.framework.conversions import detection_array_msg
from perception.nodes.framework.model_path import resolve_model_path
from perception.nodes.glass_node import GlassNode, GlassParameters
from perception_msgs.msg import DetectionArray, GlassClassificationArray

SUCCESS, FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE
REPO = Path(__file__).resolve().parents[2]
DEMO_ARTIFACT = REPO / "models" / "glass" / "mobilenet_v2_glass.safetensors"
GLASS_TYPES = ("cup", "beer_glass", "soju_glass")
RED, GREEN, BLUE, GREY = (0, 0, 255), (0, 255, 0), (255, 0, 0), (60, 60, 60)  # BGR

# (detector class, box, colour): classified types follow the colour; the knife is not cropped.
OBJECTS = [
    ("cup", (20, 30, 80, 110), RED),
    ("knife", (100, 20, 140, 60), BLUE),
    ("wine glass", (150, 40, 200, 150), GREEN),
    ("wine glass", (230, 120, 300, 220), BLUE),
]
EXPECTED_TYPES = ["cup", "beer_glass", "soju_glass"]


class ColourNet(nn.Module):
    """Logits = mean normalised R, G, B of the crop; records every batch size it sees."""

    def __init__(self) -> None:
        super().__init__()
        self.batch_sizes: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.batch_sizes.append(x.shape[0])
        return 10.0 * x.mean(dim=(2, 3))


def colour_factory(net: ColourNet | None = None):
    """Like GlassNode.load_model: resolves model_path (so a missing file fails) then builds."""

    def factory(params: GlassParameters) -> GlassClassifier:
        path = resolve_model_path(params.model_path)
        classifier = Classifier(
            net or ColourNet(), GLASS_TYPES, Preprocessing(32), "cpu", params.batch_size, model_id(path)
        )
        return GlassClassifier(classifier)

    return factory


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    """The glass node's model_id is ``<file name>@<sha256 prefix>`` of this file (asserted below)."""
    path = tmp_path / "colour.safetensors"
    path.write_bytes(b"stub weights")
    return path


def scene(width: int = 320, height: int = 240) -> np.ndarray:
    image = np.full((height, width, 3), GREY, np.uint8)
    for _, (x0, y0, x1, y1), colour in OBJECTS:
        image[y0:y1, x0:x1] = colour
    return image


def scene_detections() -> list[Detection]:
    return [Detection(i, name, 0.9, *map(float, box)) for i, (name, box, _) in enumerate(OBJECTS)]


def image_msg(bgr: np.ndarray, sec: int, frame_id: str = "camera", encoding: str = "bgr8") -> Image:
    msg = numpy_to_image(bgr, encoding)
    msg.header.frame_id = frame_id
    msg.header.stamp.sec, msg.header.stamp.nanosec = sec, 250
    return msg


def detections_msg(image: Image, detections: Sequence[Detection] | None = None) -> DetectionArray:
    found = scene_detections() if detections is None else detections
    return detection_array_msg(image.header, found, image.width, image.height, "test-detector")


def start(ros, params: dict, factory=None, namespace: str = "") -> GlassNode:
    overrides = [Parameter(k, value=v) for k, v in params.items()]
    node = GlassNode(
        model_factory=factory or colour_factory(),
        context=ros.context,
        namespace=namespace,
        parameter_overrides=overrides,
    )
    return ros.add(node)


class Wiring:
    """Publishers of the node's two inputs and collectors of its outputs, in one namespace."""

    def __init__(self, ros, namespace: str = "") -> None:
        prefix = namespace.rstrip("/") + "/" if namespace else ""
        self.ros = ros
        self.glasses = ros.collect(GlassClassificationArray, prefix + "glasses")
        self.markers = ros.collect(MarkerArray, prefix + "glass_markers")
        self.debug = ros.collect(Image, prefix + "glass_debug_image")
        self.images = ros.publisher(Image, prefix + "image")
        self.detections = ros.publisher(DetectionArray, prefix + "detections")

    def connect(self) -> None:
        self.ros.wait_matched(self.images)
        self.ros.wait_matched(self.detections)

    def send_pair(self, node: GlassNode, image: Image, detections: DetectionArray | None = None) -> None:
        """Image first, then (once it is cached) its detections, as the detector would."""
        waiting = node.counters["images_waiting"]
        self.images.publish(image)
        assert self.ros.wait_for(lambda: node.counters["images_waiting"] == waiting + 1)
        self.detections.publish(detections or detections_msg(image))


def state_id(node: GlassNode) -> int:
    return node._state_machine.current_state[0]


def stamps(messages) -> list[int]:
    return [m.header.stamp.sec for m in messages]


def test_paired_frame_is_classified_in_one_batch_with_markers_and_debug_image(ros, model_file) -> None:
    net = ColourNet()
    params = {"model_path": str(model_file), "debug_image": True}
    node = start(ros, params, colour_factory(net), namespace="/robot")
    io = Wiring(ros, "/robot")
    assert node.autostart()
    io.connect()
    image = image_msg(scene(), sec=42, frame_id="cam_optical")
    io.send_pair(node, image)

    assert ros.wait_for(lambda: io.glasses and io.markers and io.debug)
    result = io.glasses[0]
    header = (result.header.stamp.sec, result.header.stamp.nanosec, result.header.frame_id)
    assert header == (42, 250, "cam_optical")
    assert result.model_id == model_id(model_file) and result.model_id.startswith("colour.safetensors@")
    assert [g.glass_type for g in result.glasses] == EXPECTED_TYPES
    assert [g.glass_type_id for g in result.glasses] == [0, 1, 2]
    assert [g.fragile for g in result.glasses] == [is_fragile(t) for t in EXPECTED_TYPES]
    assert [g.fragile for g in result.glasses] == [False, True, True]
    expected_boxes = [box for name, box, _ in OBJECTS if name != "knife"]
    boxes = [(d.x_min, d.y_min, d.x_max, d.y_max) for d in (g.detection for g in result.glasses)]
    assert boxes == [tuple(map(float, b)) for b in expected_boxes]
    assert [g.detection.class_name for g in result.glasses] == ["cup", "wine glass", "wine glass"]
    assert all(0.5 < g.score <= 1.0 for g in result.glasses)
    assert net.batch_sizes == [3], "all crops of a frame go through the network together"

    markers = io.markers[0].markers
    assert markers[0].action == Marker.DELETEALL and markers[0].ns == "glasses"
    assert sum(m.type == Marker.LINE_STRIP for m in markers) == 3
    labels = [m.text for m in markers if m.type == Marker.TEXT_VIEW_FACING]
    assert labels[0].startswith("cup ") and "soju_glass FRAGILE" in labels[2]
    assert all(m.header.stamp.sec == 42 for m in markers)
    debug = io.debug[0]
    assert debug.header.stamp.sec == 42 and debug.encoding == "bgr8"
    assert not np.array_equal(image_to_numpy(debug), scene())
    assert node.counters["images_waiting"] == 0 and node.counters["detections_waiting"] == 0


def test_pairs_by_stamp_in_either_arrival_order(ros, model_file) -> None:
    params = {"model_path": str(model_file), "image_reliability": "reliable", "image_queue_depth": 10}
    node = start(ros, params)
    io = Wiring(ros)
    assert node.autostart()
    io.connect()
    images = {sec: image_msg(scene(), sec=sec) for sec in (1, 2, 3)}
    for image in images.values():
        io.images.publish(image)
    assert ros.wait_for(lambda: node.counters["images_waiting"] == 3)
    io.detections.publish(detections_msg(images[2]))
    assert ros.wait_for(lambda: stamps(io.glasses) == [2])

    early = image_msg(scene(), sec=9)
    io.detections.publish(detections_msg(early))
    assert ros.wait_for(lambda: node.counters["detections_waiting"] == 1)
    io.images.publish(early)
    assert ros.wait_for(lambda: stamps(io.glasses) == [2, 9])
    assert [g.glass_type for g in io.glasses[1].glasses] == EXPECTED_TYPES
    assert node.counters["images_waiting"] == 2 and node.counters["failed"] == 0


def test_partners_that_never_come_are_evicted_and_counted_not_errors(ros, model_file) -> None:
    params = {
        "model_path": str(model_file),
        "pair_cache_size": 2,
        "image_reliability": "reliable",
        "image_queue_depth": 10,
    }
    node = start(ros, params)
    io = Wiring(ros)
    assert node.autostart()
    io.connect()
    for sec in range(10, 15):  # detections whose image was dropped upstream
        io.detections.publish(detections_msg(image_msg(scene(), sec=sec)))
    assert ros.wait_for(lambda: node.counters["detections_unpaired"] == 3)
    for sec in range(20, 24):  # images the detector skipped
        io.images.publish(image_msg(scene(), sec=sec))
    assert ros.wait_for(lambda: node.counters["images_unpaired"] == 2)
    counters = node.counters
    assert (counters["detections_waiting"], counters["images_waiting"]) == (2, 2)
    assert counters["received"] == 0 and counters["failed"] == 0 and io.glasses == []

    io.detections.publish(detections_msg(image_msg(scene(), sec=23)))
    assert ros.wait_for(lambda: stamps(io.glasses) == [23])


def test_frame_without_glasses_publishes_an_empty_array(ros, model_file) -> None:
    net = ColourNet()
    node = start(ros, {"model_path": str(model_file)}, colour_factory(net))
    io = Wiring(ros)
    assert node.autostart()
    io.connect()
    knife_only = [d for d in scene_detections() if d.class_name == "knife"]
    image = image_msg(scene(), sec=5)
    io.send_pair(node, image, detections_msg(image, knife_only))
    assert ros.wait_for(lambda: stamps(io.glasses) == [5])
    assert list(io.glasses[0].glasses) == [] and net.batch_sizes == []


def test_bad_frames_and_mismatched_detections_are_skipped(ros, model_file, capfd) -> None:
    node = start(ros, {"model_path": str(model_file)})
    io = Wiring(ros)
    assert node.autostart()
    io.connect()
    yuv = image_msg(scene(), sec=1)
    yuv.encoding = "yuv422"
    io.images.publish(yuv)  # refused and logged on arrival, without waiting for its detections
    assert ros.wait_for(lambda: node.counters["bad_frames"] == 1)
    assert node.counters["images_waiting"] == 0

    other_camera = image_msg(scene(), sec=2)
    io.send_pair(node, other_camera, detection_array_msg(other_camera.header, [], 640, 480, "x"))
    assert ros.wait_for(lambda: node.counters["failed"] == 1)  # yuv422 was refused on arrival
    err = capfd.readouterr().err
    assert "skipping bad frame" in err and "yuv422" in err
    assert "detections of stamp 2.000000250 are for a 640x480 image but the image is 320x240" in err

    io.send_pair(node, image_msg(scene(), sec=3))
    assert ros.wait_for(lambda: stamps(io.glasses) == [3])
    assert node.counters["processed"] == 1


def test_live_parameters_apply_and_bad_ones_are_refused(ros, model_file) -> None:
    node = start(ros, {"model_path": str(model_file)})
    io = Wiring(ros)
    assert node.autostart()
    io.connect()
    changed = node.set_parameters([Parameter("classes", value=["cup"]), Parameter("padding", value=0.0)])
    assert all(r.successful for r in changed)
    io.send_pair(node, image_msg(scene(), sec=7))
    assert ros.wait_for(lambda: stamps(io.glasses) == [7])
    assert [g.glass_type for g in io.glasses[0].glasses] == ["cup"]

    empty = node.set_parameters([Parameter("classes", value=[])])[0]
    assert not empty.successful and "'classes' is empty" in empty.reason
    too_big = node.set_parameters([Parameter("padding", value=2.0)])[0]
    assert not too_big.successful and "out of range" in too_big.reason
    refused = node.set_parameters([Parameter("pair_cache_size", value=5)])[0]
    assert not refused.successful and "applied at configure" in refused.reason
    assert node.params.classes == ("cup",)


@pytest.mark.parametrize("config", ["jetson.yaml", "desktop.yaml"])
def test_shipped_config_passes_the_node_validation(ros, config: str) -> None:
    path = REPO / "ros_ws" / "src" / "perception" / "config" / config
    node = ros.add(
        GlassNode(
            model_factory=lambda params: None,
            context=ros.context,
            namespace="perception",
            cli_args=["--ros-args", "--params-file", str(path)],
        )
    )
    assert node.trigger_configure() == SUCCESS
    expected = yaml.safe_load(path.read_text())["/**/glass_node"]["ros__parameters"]
    assert {k: getattr(node.params, k) for k in expected} == {
        k: tuple(v) if isinstance(v, list) else v for k, v in expected.items()
    }


def test_artifact_loads_through_the_real_path_and_matches_the_core(ros, tmp_path) -> None:
    torch.manual_seed(0)
    model = build_classifier("mobilenet_v3_small", len(GLASS_TYPES), 32)
    artifact = save_artifact(
        tmp_path / "tiny_glass.safetensors",
        model.state_dict(),
        {
            "kind": "classifier",
            "architecture": "mobilenet_v3_small",
            "classes": list(GLASS_TYPES),
            "input_size": 32,
            "preprocessing": Preprocessing(32).to_metadata(),
        },
    )
    node = ros.add(
        GlassNode(
            context=ros.context,
            parameter_overrides=[
                Parameter("model_path", value=str(artifact)),
                Parameter("device", value="cpu"),
            ],
        )
    )
    io = Wiring(ros)
    assert node.autostart()
    io.connect()
    io.send_pair(node, image_msg(scene(), sec=11))
    assert ros.wait_for(lambda: io.glasses, timeout=30.0)

    reference = GlassClassifier.load(artifact, device="cpu").classify(scene(), scene_detections())
    got = io.glasses[0]
    assert got.model_id == model_id(artifact) and got.model_id.startswith("tiny_glass.safetensors@")
    assert [g.glass_type for g in got.glasses] == [r.glass_type for r in reference]
    np.testing.assert_allclose([g.score for g in got.glasses], [r.score for r in reference], atol=1e-5)


@pytest.mark.skipif(not DEMO_ARTIFACT.is_file(), reason=f"glass artifact {DEMO_ARTIFACT} not trained yet")
def test_demo_artifact_classifies_ground_truth_boxes_of_held_out_scenes(ros, monkeypatch) -> None:
    pytest.importorskip("perception_training", reason="needs the training package (synthetic world)")
    from perception_training.synthetic import GLASS_TYPES as WORLD_GLASS_TYPES
    from perception_training.synthetic.world import SceneWorld

    monkeypatch.setenv("PERCEPTION_MODELS_DIR", str(REPO / "models"))
    node = ros.add(GlassNode(context=ros.context, parameter_overrides=[Parameter("device", value="cpu")]))
    io = Wiring(ros)
    assert node.autostart()
    io.connect()
    world = SceneWorld(seed=int(os.environ.get("PERCEPTION_TEST_SEED", "7")))
    correct = total = 0
    for sec in range(1, 7):
        frame = world.scene(sec, "test", "glass")
        truth = [
            Detection(0, o.class_name, 1.0, *o.box, track_id=k)
            for k, o in enumerate(frame.objects)
            if o.attributes.get("glass_type") in WORLD_GLASS_TYPES
        ]
        image = image_msg(frame.image, sec=sec)
        io.send_pair(node, image, detections_msg(image, truth))
        assert ros.wait_for(lambda sec=sec: stamps(io.glasses)[-1:] == [sec], timeout=30.0)
        for glass in io.glasses[-1].glasses:
            expected = frame.objects[glass.detection.track_id].attributes["glass_type"]
            correct += glass.glass_type == expected
            total += 1
    assert total >= 10
    assert correct / total >= 0.85, f"{correct}/{total} glass types right"
