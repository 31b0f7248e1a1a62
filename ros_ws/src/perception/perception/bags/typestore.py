"""A rosbags typestore that knows ROS 2 Kilted's messages plus our perception_msgs.

The perception_msgs definitions are read from their .msg files (installed share directory
or the source tree), never restated in Python, so bags and live topics agree by construction.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path

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
    """ROS 2 Kilted's typestore with every perception_msgs message registered (cached)."""
    typestore = get_typestore(STORE)
    types = {}
    for path in sorted(msg_directory().glob("*.msg")):
        types.update(get_types_from_msg(path.read_text(encoding="utf-8"), f"{PACKAGE}/msg/{path.stem}"))
    typestore.register(types)
    return typestore
