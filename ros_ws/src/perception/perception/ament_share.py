"""Where an installed ROS package's share folder is, when an ament index says so."""

from __future__ import annotations

import os
from pathlib import Path


def ament_share(package: str) -> Path | None:
    """``share/<package>`` from the ament index, or None without an index or that package.

    Callers fall back to the venv prefix and the source tree, so a missing index is not an error.
    """
    if not os.environ.get("AMENT_PREFIX_PATH"):
        return None
    from ament_index_python.packages import PackageNotFoundError, get_package_share_directory

    try:
        return Path(get_package_share_directory(package))
    except PackageNotFoundError:
        return None
