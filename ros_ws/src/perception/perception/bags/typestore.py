"""A rosbags typestore that knows ROS 2 Kilted's messages plus our perception_msgs.

The perception_msgs definitions are read from their .msg files (installed share directory
or the source tree), never restated in Python, so bags and live topics agree by construction.
"""

from __future__ import annotations

import dataclasses
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

from perception.ament_share import ament_share

PACKAGE = "perception_msgs"
STORE = Stores.ROS2_KILTED
_SOURCE_TREE = Path(__file__).resolve().parents[3] / PACKAGE


def msg_directory() -> Path:
    """The folder holding perception_msgs' .msg files.

    Looked up, in order: the ament index (a sourced ROS workspace), the running environment's
    ``share/`` (a venv install), the source tree next to this package.
    """
    candidates = [ament_share(PACKAGE), Path(sys.prefix) / "share" / PACKAGE, _SOURCE_TREE]
    for candidate in candidates:
        if candidate is not None and any((candidate / "msg").glob("*.msg")):
            return candidate / "msg"
    searched = ", ".join(str(c / "msg") for c in candidates if c is not None)
    raise FileNotFoundError(
        f"no {PACKAGE} .msg files found (searched {searched}); build and install "
        f"ros_ws/src/{PACKAGE} (colcon build, or scripts/bootstrap) and source the workspace"
    )


@lru_cache(maxsize=1)
def perception_typestore() -> Typestore:
    """ROS 2 Kilted's typestore with every perception_msgs message registered (cached).

    Fields with a default value in their .msg file (``bool in_domain true``) get it in the
    message classes too, as rclpy's do: rosbags drops those defaults, and a writer that builds a
    message without the newer fields would otherwise fail."""
    typestore = get_typestore(STORE)
    types, defaults = {}, {}
    for path in sorted(msg_directory().glob("*.msg")):
        name, text = f"{PACKAGE}/msg/{path.stem}", path.read_text(encoding="utf-8")
        types.update(get_types_from_msg(text, name))
        defaults[name] = field_defaults(text)
    typestore.register(types)
    for name, values in defaults.items():
        if values:
            _default_keywords(typestore.types[name], values)
    return typestore


def field_defaults(text: str) -> dict[str, Any]:
    """``{field: default}`` of the fields a .msg text gives a default value (constants excluded)."""
    defaults = {}
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) == 3 and "=" not in line.split("#", 1)[0]:
            type_name, field, value = words
            defaults[field] = _parse_default(type_name, value)
    return defaults


def _parse_default(type_name: str, value: str) -> Any:
    if type_name == "bool":
        return value.lower() == "true"
    if type_name.startswith("float"):
        return float(value)
    if type_name.startswith(("int", "uint", "byte", "char")):
        return int(value, 0)
    return value.strip("\"'")


def _default_keywords(message_class: type, defaults: dict[str, Any]) -> None:
    """Let ``message_class(...)`` leave out the fields ``defaults`` names (in place, so the class
    the typestore's (de)serialisers know stays the same)."""
    names = [field.name for field in dataclasses.fields(message_class)]
    original = message_class.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        positional = set(names[: len(args)])
        for field, value in defaults.items():
            if field not in positional:
                kwargs.setdefault(field, value)
        original(self, *args, **kwargs)

    message_class.__init__ = __init__
