"""A parameter file written by ``ros2 param dump`` loads back unchanged (array parameters).

A params file's empty list reached the node without a type; ``ros2 param dump`` then wrote
``classes: null``, which fails configure when fed back (``expected a string array``). The
in-process test needs no ROS tools; the launch tests dump every launched node for real.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import rclpy
import yaml
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter
from std_msgs.msg import String

from perception.nodes.framework.managed_node import ManagedNode
from perception.nodes.framework.parameters import param


@dataclass(frozen=True)
class ArrayParams:
    names: tuple[str, ...] = param(("a",), "strings")
    counts: tuple[int, ...] = param((1,), "integers")
    scales: tuple[float, ...] = param((1.0,), "doubles")
    flags: tuple[bool, ...] = param((True,), "bools")


class ArrayNode(ManagedNode):
    parameters_spec = ArrayParams

    def load_model(self, params: ArrayParams) -> object:
        return object()

    def create_outputs(self, params: ArrayParams) -> None:
        self.create_output(String, "out")


def test_empty_arrays_from_a_params_file_keep_their_type(tmp_path: Path) -> None:
    params_file = tmp_path / "params.yaml"
    empty = {"names": [], "counts": [], "scales": [], "flags": []}
    params_file.write_text(yaml.safe_dump({"/**": {"ros__parameters": empty}}))
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        cli_args = ["--ros-args", "--params-file", str(params_file)]
        node = ArrayNode("array_node", context=context, cli_args=cli_args)
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        types = {name: node.get_parameter(name).type_ for name in empty}
        assert types == {
            "names": Parameter.Type.STRING_ARRAY,
            "counts": Parameter.Type.INTEGER_ARRAY,
            "scales": Parameter.Type.DOUBLE_ARRAY,
            "flags": Parameter.Type.BOOL_ARRAY,
        }
        assert node.params == ArrayParams((), (), (), ())
        node.trigger_shutdown()
        node.destroy_node()
    finally:
        rclpy.shutdown(context=context)
