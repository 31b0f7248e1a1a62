"""ManagedNode without images: inputs live while active, model released on cleanup."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from lifecycle_msgs.msg import State
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter
from std_msgs.msg import String

from perception.nodes.framework.managed_node import ManagedNode
from perception.nodes.framework.parameters import param

SUCCESS = TransitionCallbackReturn.SUCCESS


@dataclass(frozen=True)
class EchoParameters:
    prefix: str = param(">", "prepended to every message", live=True)
    mode: str = param("upper", "how the text is changed", choices=("upper", "lower"))


@dataclass
class EchoModel:
    mode: str
    closed: list[bool] = field(default_factory=list)

    def apply(self, text: str) -> str:
        return text.upper() if self.mode == "upper" else text.lower()

    def close(self) -> None:
        self.closed.append(True)


class EchoNode(ManagedNode[EchoParameters, EchoModel]):
    parameters_spec = EchoParameters

    def __init__(self, **kwargs) -> None:
        super().__init__("echo_node", **kwargs)
        self.models: list[EchoModel] = []

    def load_model(self, params: EchoParameters) -> EchoModel:
        self.models.append(EchoModel(params.mode))
        return self.models[-1]

    def release_model(self, model: EchoModel) -> None:
        model.close()

    def create_outputs(self, params: EchoParameters) -> None:
        self.out = self.create_output(String, "text_out")

    def create_inputs(self, params: EchoParameters) -> None:
        self.create_input(String, "text_in", self._on_text)

    def _on_text(self, msg: String) -> None:
        self.out.publish(String(data=self.params.prefix + self.model.apply(msg.data)))


def test_lifecycle_of_a_node_without_images(ros) -> None:
    node = ros.add(EchoNode(context=ros.context))
    received = ros.collect(String, "text_out")
    publisher = ros.publisher(String, "text_in")
    assert node.autostart()
    ros.wait_matched(publisher)
    publisher.publish(String(data="Cup"))
    assert ros.wait_for(lambda: [m.data for m in received] == [">CUP"])

    assert node.set_parameters([Parameter("prefix", value="# ")])[0].successful
    refused = node.set_parameters([Parameter("mode", value="lower")])[0]
    assert not refused.successful and "applied at configure" in refused.reason
    publisher.publish(String(data="Knife"))
    assert ros.wait_for(lambda: [m.data for m in received][-1:] == ["# KNIFE"])

    assert node.trigger_deactivate() == SUCCESS
    assert ros.wait_for(lambda: publisher.get_subscription_count() == 0), "inputs must go on deactivate"
    assert node.trigger_cleanup() == SUCCESS
    assert node.models[0].closed == [True] and node.model is None

    assert node.set_parameters([Parameter("mode", value="lower")])[0].successful
    assert node.autostart()
    ros.wait_matched(publisher)
    publisher.publish(String(data="Glass"))
    assert ros.wait_for(lambda: [m.data for m in received][-1:] == ["# glass"])
    assert node._state_machine.current_state[0] == State.PRIMARY_STATE_ACTIVE


def test_log_takes_every_level_from_one_node(ros) -> None:
    """rclpy keeps one severity per call site (Humble and newer): mixing levels must not raise."""
    node = ros.add(EchoNode(context=ros.context))
    for level in (logging.INFO, logging.WARNING, logging.ERROR, logging.DEBUG, logging.INFO):
        node.log(level, f"level {level}")
