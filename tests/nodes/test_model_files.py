"""Every model node, through its real loader: a missing or corrupt model file (garbage, or
flipped bytes in the weights of a real artifact), a directory or /dev/null fails configure with
a message naming the file and what is wrong, the node stays up, and pointing
``model_path`` at the committed artifact then configures and activates it. And each applies
``cpu_threads`` to torch before its model loads.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from lifecycle_msgs.msg import State
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter

from perception.core.artifacts import DIGEST_KEY, read_metadata
from perception.nodes.caption_node import CaptionNode
from perception.nodes.detector_node import DetectorNode
from perception.nodes.glass_node import GlassNode

SUCCESS, FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE
MODELS = Path(__file__).resolve().parents[2] / "models"
NODES = {
    "caption": (CaptionNode, "captioner/mnv3_gru_en.safetensors"),
    "detector": (DetectorNode, "detector/yolo11n_synthetic.safetensors"),
    "glass": (GlassNode, "glass/mobilenet_v2_glass.safetensors"),
}


@pytest.mark.parametrize("name", sorted(NODES))
def test_missing_and_corrupt_models_fail_configure_with_the_reason_then_a_good_one_runs(
    ros, tmp_path, capfd, name
) -> None:
    node_class, model = NODES[name]
    good = MODELS / model
    if not good.is_file():
        pytest.skip(f"{good} is not committed in this checkout")
    absent = tmp_path / "absent.safetensors"
    overrides = [Parameter("model_path", value=str(absent)), Parameter("device", value="cpu")]
    node = ros.add(node_class(context=ros.context, parameter_overrides=overrides))
    assert node.trigger_configure() == FAILURE
    assert "absent.safetensors does not exist" in capfd.readouterr().err

    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"\x00 not an artifact")
    assert node.set_parameters([Parameter("model_path", value=str(corrupt))])[0].successful
    assert node.trigger_configure() == FAILURE
    assert "corrupt.safetensors is not a readable safetensors artifact" in capfd.readouterr().err

    flipped = tmp_path / "flipped.safetensors"
    weights = bytearray(good.read_bytes())
    weights[-1] ^= 0xFF  # the last byte is always tensor data: the header stays intact
    flipped.write_bytes(weights)
    assert node.set_parameters([Parameter("model_path", value=str(flipped))])[0].successful
    assert node.trigger_configure() == FAILURE
    err = capfd.readouterr().err
    assert "flipped.safetensors: its weights are corrupt" in err
    assert f"expected {DIGEST_KEY} {read_metadata(good)[DIGEST_KEY]}" in err and "actual " in err

    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copyfile(good, folder / good.name)
    for path, what in (
        (folder, f"is a directory, not a model file; did you mean {folder / good.name}?"),
        (Path("/dev/null"), "is a character device, not a model file"),
    ):
        assert node.set_parameters([Parameter("model_path", value=str(path))])[0].successful
        assert node.trigger_configure() == FAILURE
        assert f"{path} {what}" in capfd.readouterr().err
    assert node._state_machine.current_state[0] == State.PRIMARY_STATE_UNCONFIGURED

    assert node.set_parameters([Parameter("model_path", value=str(good))])[0].successful
    assert node.trigger_configure() == SUCCESS
    assert node.trigger_activate() == SUCCESS
    assert node._state_machine.current_state[0] == State.PRIMARY_STATE_ACTIVE


@pytest.mark.parametrize("name", sorted(NODES))
def test_cpu_threads_is_applied_before_the_model_loads(ros, name) -> None:
    node_class, _ = NODES[name]
    seen: list[int] = []

    def factory(params):  # a stand-in model: the detector's configure asks it for class ids
        seen.append(torch.get_num_threads())
        return SimpleNamespace(class_ids=lambda classes: [])

    previous = torch.get_num_threads()
    wanted = previous + 1
    try:
        overrides = [Parameter("cpu_threads", value=wanted), Parameter("autostart", value=False)]
        node = ros.add(node_class(context=ros.context, model_factory=factory, parameter_overrides=overrides))
        assert node.trigger_configure() == SUCCESS
        assert seen == [wanted] and node.params.cpu_threads == wanted
    finally:
        torch.set_num_threads(previous)
