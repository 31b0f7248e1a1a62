"""Typed parameter specs: declared once, loaded from params files, validated with clear errors."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import rclpy
import yaml
from rclpy.node import Node
from rclpy.parameter import Parameter

from perception.nodes.framework.parameters import (
    ParameterError,
    declare_parameters,
    param,
    read_parameters,
    validate_change,
)


@dataclass(frozen=True)
class Spec:
    confidence: float = param(0.25, "minimum score", min_value=0.0, max_value=1.0, live=True)
    image_size: int = param(0, "input size; 0 = model's", min_value=0, max_value=4096)
    mode: str = param("fast", "speed/quality trade-off", choices=("fast", "accurate"))
    device: str = param("auto", "where it runs", pattern=r"auto|cpu|cuda(:[0-9]+)?")
    half: bool = param(False, "fp16")
    classes: tuple[str, ...] = param((), "class filter; empty = all", live=True)


@pytest.fixture
def context() -> Iterator[rclpy.Context]:
    context = rclpy.Context()
    rclpy.init(context=context)
    yield context
    rclpy.shutdown(context=context)


def make_node(
    context: rclpy.Context, tmp_path: Path, values: dict | None = None, cli: list[str] = ()
) -> Node:
    args = ["--ros-args", *cli]
    if values is not None:
        path = tmp_path / "params.yaml"
        path.write_text(yaml.safe_dump({"/**": {"ros__parameters": values}}))
        args += ["--params-file", str(path)]
    return Node("spec_test", context=context, cli_args=args)


def test_defaults_and_descriptors(context: rclpy.Context, tmp_path: Path) -> None:
    node = make_node(context, tmp_path)
    declare_parameters(node, Spec)
    assert read_parameters(node, Spec) == Spec()
    descriptor = node.describe_parameter("confidence")
    assert descriptor.description == "minimum score"
    assert (descriptor.floating_point_range[0].from_value, descriptor.floating_point_range[0].to_value) == (
        0.0,
        1.0,
    )
    assert node.describe_parameter("image_size").integer_range[0].to_value == 4096
    assert "'fast', 'accurate'" in node.describe_parameter("mode").additional_constraints
    node.destroy_node()


def test_params_file_and_cli_overrides_are_read_typed(context: rclpy.Context, tmp_path: Path) -> None:
    values = {"confidence": 0.6, "mode": "accurate", "classes": ["cup", "bottle"], "half": True}
    node = make_node(context, tmp_path, values, cli=["-p", "image_size:=320", "-p", "device:=cuda:1"])
    declare_parameters(node, Spec)
    spec = read_parameters(node, Spec)
    assert spec == Spec(
        confidence=0.6, image_size=320, mode="accurate", device="cuda:1", half=True, classes=("cup", "bottle")
    )
    node.destroy_node()


def test_empty_list_in_params_file_means_empty_tuple(context: rclpy.Context, tmp_path: Path) -> None:
    node = make_node(context, tmp_path, {"classes": []})
    declare_parameters(node, Spec)
    assert read_parameters(node, Spec).classes == ()
    node.destroy_node()


def test_declaring_twice_is_harmless(context: rclpy.Context, tmp_path: Path) -> None:
    node = make_node(context, tmp_path, {"mode": "accurate"})
    assert declare_parameters(node, Spec) == {}
    assert declare_parameters(node, Spec) == {}
    assert read_parameters(node, Spec).mode == "accurate"
    node.destroy_node()


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"confidence": 1.5}, r"'confidence'.*out of range.*in \[0.0, 1.0\]"),
        ({"confidence": 1}, r"'confidence'.*expecting type 'DOUBLE'.*1\.0"),
        ({"image_size": -3}, r"'image_size'.*in \[0, 4096\]"),
        ({"mode": "turbo"}, r"'mode' = 'turbo' is not allowed; use one of 'fast', 'accurate'"),
        ({"device": "gpu"}, r"'device' = 'gpu' is not allowed; must be matching"),
        ({"classes": [1, 2]}, r"'classes' = \[1, 2\]: element 1 \(int\): expected a string"),
        ({"half": "yes"}, r"'half'.*expecting type 'BOOL'"),
    ],
)
def test_bad_values_name_the_parameter_the_value_and_what_is_allowed(
    context: rclpy.Context, tmp_path: Path, values: dict, expected: str
) -> None:
    node = make_node(context, tmp_path, values)
    rejected = declare_parameters(node, Spec)
    with pytest.raises(ParameterError, match=expected):
        if rejected:
            raise rejected[next(iter(values))]
        read_parameters(node, Spec)
    node.destroy_node()


def test_rejected_overrides_are_reported_and_declared_with_defaults_to_be_fixed(
    context: rclpy.Context, tmp_path: Path
) -> None:
    node = make_node(context, tmp_path, {"confidence": 7.0, "image_size": -1, "mode": "accurate"})
    rejected = declare_parameters(node, Spec)
    assert sorted(rejected) == ["confidence", "image_size"]
    assert node.get_parameter("confidence").value == 0.25
    assert node.set_parameters([Parameter("confidence", value=0.5)])[0].successful
    assert read_parameters(node, Spec).confidence == 0.5
    node.destroy_node()


def test_validate_change_returns_coerced_values() -> None:
    changes = validate_change(Spec, [Parameter("confidence", value=1), Parameter("other", value=3)], True)
    assert changes == {"confidence": 1.0}
    assert validate_change(Spec, [Parameter("classes", value=["cup"])], True) == {"classes": ("cup",)}


def test_validate_change_refuses_configure_time_parameters_while_configured() -> None:
    with pytest.raises(ParameterError, match="'mode' is applied at configure; deactivate and clean up"):
        validate_change(Spec, [Parameter("mode", value="accurate")], configured=True)
    assert validate_change(Spec, [Parameter("mode", value="accurate")], configured=False) == {
        "mode": "accurate"
    }
    with pytest.raises(ParameterError, match=r"'confidence' = 2\.0 is too large"):
        validate_change(Spec, [Parameter("confidence", value=2.0)], configured=False)


def test_spec_fields_must_use_param() -> None:
    @dataclass(frozen=True)
    class Broken:
        plain: int = 3

    with pytest.raises(TypeError, match=r"Broken.plain must be declared with param"):
        validate_change(Broken, [], configured=False)
