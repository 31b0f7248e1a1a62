"""Typed ROS parameters declared once per node as a frozen dataclass.

Each field is one parameter: its type comes from the annotation, its default, description and
constraints from ``param(...)``. ``declare_parameters`` turns the spec into ROS parameters with
full descriptors (``ros2 param describe`` shows them, rclpy enforces ranges), and
``read_parameters`` returns a validated instance, so a node never touches raw parameter calls.

    @dataclass(frozen=True)
    class MyParams:
        confidence: float = param(0.25, "minimum score", min_value=0.0, max_value=1.0, live=True)
        device: str = param("auto", "where the model runs", pattern=DEVICE_PATTERN)

``live`` parameters may change while the node is configured (the node re-reads them);
the others are applied at configure, so changing them is refused until the node is cleaned up.
``secret`` parameters (URLs that may carry credentials, tokens) never appear in a log line or
error message: ``describe_parameters`` and every ParameterError mask them.
Works with ``--ros-args --params-file x.yaml`` and ``-p name:=value``.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, ParameterType
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.node import Node
from rclpy.parameter import Parameter

from perception.core.secrets import MASK, redact_text, redact_url

SpecT = TypeVar("SpecT")

# Device names perception.core.devices.resolve_device accepts, for every node's `device` parameter.
DEVICE_PATTERN = r"auto|cpu|mps|cuda(:[0-9]+)?"

_META_KEY = "ros_parameter"

# Annotation -> ROS parameter type. Arrays are tuples so specs stay frozen and hashable.
_SCALAR_TYPES: dict[Any, int] = {
    bool: ParameterType.PARAMETER_BOOL,
    int: ParameterType.PARAMETER_INTEGER,
    float: ParameterType.PARAMETER_DOUBLE,
    str: ParameterType.PARAMETER_STRING,
}
_ARRAY_TYPES: dict[Any, int] = {
    str: ParameterType.PARAMETER_STRING_ARRAY,
    int: ParameterType.PARAMETER_INTEGER_ARRAY,
    float: ParameterType.PARAMETER_DOUBLE_ARRAY,
    bool: ParameterType.PARAMETER_BOOL_ARRAY,
}
_ARRAY_PARAMETER_TYPES = {
    str: Parameter.Type.STRING_ARRAY,
    int: Parameter.Type.INTEGER_ARRAY,
    float: Parameter.Type.DOUBLE_ARRAY,
    bool: Parameter.Type.BOOL_ARRAY,
}
_TYPE_NAMES = {str: "string", int: "integer", float: "double", bool: "bool"}


class ParameterError(ValueError):
    """A parameter value is not allowed; the message names the parameter, value and the fix."""


@dataclass(frozen=True)
class ParamInfo:
    """Constraints of one parameter, kept in the dataclass field's metadata."""

    description: str
    choices: tuple[Any, ...] = ()
    min_value: float | None = None
    max_value: float | None = None
    pattern: str | None = None
    read_only: bool = False
    live: bool = False
    secret: bool = False

    def constraints_text(self) -> str:
        """Human-readable constraints for the descriptor and error messages."""
        parts = []
        if self.choices:
            parts.append("one of " + ", ".join(repr(c) for c in self.choices))
        if self.min_value is not None or self.max_value is not None:
            parts.append(f"in [{self.min_value}, {self.max_value}]")
        if self.pattern:
            parts.append(f"matching {self.pattern}")
        return "; ".join(parts)


def param(
    default: Any,
    description: str,
    *,
    choices: Sequence[Any] = (),
    min_value: float | None = None,
    max_value: float | None = None,
    pattern: str | None = None,
    read_only: bool = False,
    live: bool = False,
    secret: bool = False,
) -> Any:
    """A dataclass field describing one ROS parameter (use as a field's default)."""
    info = ParamInfo(description, tuple(choices), min_value, max_value, pattern, read_only, live, secret)
    return dataclasses.field(default=default, metadata={_META_KEY: info})


@dataclass(frozen=True)
class _Field:
    name: str
    element: type  # the scalar type, or the element type of an array
    is_array: bool
    default: Any
    info: ParamInfo


def _fields(spec: type) -> list[_Field]:
    hints = typing.get_type_hints(spec)
    result = []
    for f in dataclasses.fields(spec):
        info = f.metadata.get(_META_KEY)
        if info is None:
            raise TypeError(f"{spec.__name__}.{f.name} must be declared with param(...)")
        hint = hints[f.name]
        if typing.get_origin(hint) is tuple:
            element, is_array = typing.get_args(hint)[0], True
        else:
            element, is_array = hint, False
        if element not in _SCALAR_TYPES:
            raise TypeError(f"{spec.__name__}.{f.name}: unsupported parameter type {hint}")
        result.append(_Field(f.name, element, is_array, f.default, info))
    return result


def _descriptor(field: _Field) -> ParameterDescriptor:
    info = field.info
    descriptor = ParameterDescriptor(
        name=field.name,
        type=(_ARRAY_TYPES if field.is_array else _SCALAR_TYPES)[field.element],
        description=info.description,
        additional_constraints=info.constraints_text(),
        read_only=info.read_only,
        # rclpy types an empty list as a byte array, so arrays are checked here instead.
        dynamic_typing=field.is_array,
    )
    if not field.is_array and (info.min_value is not None or info.max_value is not None):
        low = info.min_value if info.min_value is not None else -1e308
        high = info.max_value if info.max_value is not None else 1e308
        if field.element is float:
            descriptor.floating_point_range = [
                FloatingPointRange(from_value=float(low), to_value=float(high))
            ]
        elif field.element is int:
            descriptor.integer_range = [
                IntegerRange(from_value=int(max(low, -(2**63))), to_value=int(min(high, 2**63 - 1)))
            ]
    return descriptor


def _type_name(field: _Field) -> str:
    name = _TYPE_NAMES[field.element]
    return f"{name} array" if field.is_array else name


def _coerce(field: _Field, value: Any) -> Any:
    """Check one raw parameter value against the field; return the spec's Python value."""
    try:
        return _coerce_value(field, value)
    except ParameterError:
        if field.info.secret:
            raise ParameterError(
                f"parameter '{field.name}' has a value that is not allowed (not shown: the parameter "
                f"is secret); expected a {_type_name(field)}"
                + (f", {field.info.constraints_text()}" if field.info.constraints_text() else "")
            ) from None
        raise


def _coerce_value(field: _Field, value: Any) -> Any:
    if field.is_array:
        items = () if value is None else value
        if isinstance(items, (str, bytes)) or not isinstance(items, Sequence):
            raise ParameterError(
                f"parameter '{field.name}' = {value!r}: expected a {_type_name(field)}, "
                f"e.g. {field.name}: [] or [{_example(field)}]"
            )
        try:
            values = tuple(_scalar(field, item) for item in items)
        except ParameterError as error:
            raise ParameterError(f"parameter '{field.name}' = {value!r}: {error}") from None
        for item in values:
            _check_scalar(field, item, shown=value)
        return values
    coerced = _scalar(field, value)
    _check_scalar(field, coerced, shown=value)
    return coerced


def _example(field: _Field) -> str:
    return {str: '"a", "b"', int: "1, 2", float: "0.5, 1.0", bool: "true, false"}[field.element]


def _scalar(field: _Field, value: Any) -> Any:
    is_bool = isinstance(value, bool)
    if field.element is float and isinstance(value, int) and not is_bool:
        return float(value)
    if not isinstance(value, field.element) or (field.element is not bool and is_bool):
        what = _TYPE_NAMES[field.element] if field.is_array else _type_name(field)
        raise ParameterError(
            f"{'element' if field.is_array else f'parameter {field.name!r} ='} {value!r} "
            f"({type(value).__name__}): expected a {what}"
        )
    return value


def _check_scalar(field: _Field, value: Any, shown: Any) -> None:
    info = field.info
    allowed = info.constraints_text()
    if info.choices and value not in info.choices:
        raise ParameterError(f"parameter '{field.name}' = {shown!r} is not allowed; use {allowed}")
    if info.min_value is not None and value < info.min_value:
        raise ParameterError(f"parameter '{field.name}' = {shown!r} is too small; must be {allowed}")
    if info.max_value is not None and value > info.max_value:
        raise ParameterError(f"parameter '{field.name}' = {shown!r} is too large; must be {allowed}")
    if info.pattern and not re.fullmatch(info.pattern, value):
        raise ParameterError(f"parameter '{field.name}' = {shown!r} is not allowed; must be {allowed}")


def declare_parameters(node: Node, spec: type) -> dict[str, ParameterError]:
    """Declare every field of ``spec`` on ``node`` (those not declared yet), with descriptors.

    Values from ``--params-file``/``-p`` override the defaults. An override rclpy rejects
    (wrong type, out of range, refused by an on-set-parameters check) is replaced by the
    default so the parameter exists and can be fixed with ``ros2 param set``; the returned
    dict maps each such parameter to a ParameterError naming it and what is allowed.
    The caller must not run with those defaults until the parameters were set.
    """
    rejected = {}
    for field in _fields(spec):
        if node.has_parameter(field.name):
            continue
        default = list(field.default) if field.is_array else field.default
        try:
            node.declare_parameter(field.name, default, _descriptor(field))
        except (InvalidParameterTypeException, InvalidParameterValueException) as error:
            node.declare_parameter(field.name, default, _descriptor(field), ignore_override=True)
            allowed = field.info.constraints_text()
            wrong_type = isinstance(error, InvalidParameterTypeException)
            hint = (
                " (write whole numbers as 1.0 for a double)" if wrong_type and field.element is float else ""
            )
            reason = "(value not shown: the parameter is secret)" if field.info.secret else str(error)
            rejected[field.name] = ParameterError(
                f"parameter '{field.name}' has a bad value in the params file or -p override: {reason}. "
                f"Expected a {_type_name(field)}{hint}" + (f", {allowed}" if allowed else "")
            )
        if field.is_array and node.get_parameter(field.name).type_ == Parameter.Type.NOT_SET:
            # A params file's `[]` arrives without a type and would be dumped as `null`, which
            # does not load back (`ros2 param dump` -> --params-file); give it the spec's type.
            node.set_parameters([Parameter(field.name, _ARRAY_PARAMETER_TYPES[field.element], [])])
    return rejected


def read_parameters(node: Node, spec: type[SpecT]) -> SpecT:
    """Read and validate the current values; raises ParameterError on the first bad one."""
    values = {}
    for field in _fields(spec):
        parameter = node.get_parameter(field.name)
        raw = None if parameter.type_ == Parameter.Type.NOT_SET else parameter.value
        values[field.name] = _coerce(field, raw)
    return spec(**values)


def validate_change(spec: type, parameters: Sequence[Parameter], configured: bool) -> dict[str, Any]:
    """Check a parameter update (an on-set-parameters callback); return the new values by name.

    Values must pass the spec, and parameters that are not ``live`` may only change while the
    node is unconfigured. Raises ParameterError saying why; the node returns it as the
    SetParametersResult reason, which ``ros2 param set`` prints.
    """
    fields = {f.name: f for f in _fields(spec)}
    changes = {}
    for parameter in parameters:
        field = fields.get(parameter.name)
        if field is None:
            continue
        raw = None if parameter.type_ == Parameter.Type.NOT_SET else parameter.value
        changes[field.name] = _coerce(field, raw)
        if configured and not field.info.live:
            raise ParameterError(
                f"parameter '{field.name}' is applied at configure; deactivate and clean up "
                "the node first, set it, then configure again"
            )
    return changes


def describe_parameters(params: Any) -> str:
    """``params`` as one log line, secret values masked and credentials stripped from any URL."""
    shown = []
    for field in _fields(type(params)):
        value = getattr(params, field.name)
        if field.info.secret and value:
            value = redact_url(value) if isinstance(value, str) and "://" in value else MASK
        shown.append(f"{field.name}={value!r}")
    return redact_text(f"{type(params).__name__}({', '.join(shown)})")
