"""Rewrite the ROS wheels' CMake files so interface packages can be built in this venv.

The `ros-*` wheels on PyPI export CMake targets that still name the wheel build container's
Python and numpy include folders (/opt/python/cp311-cp311/...). CMake then refuses to
configure (`includes non-existent path`). Rewriting those strings to this interpreter's own
folders fixes it; running it again changes nothing.
"""

from __future__ import annotations

import re
import sys
import sysconfig
from pathlib import Path

import numpy

_BUILD_PYTHON_INCLUDE = re.compile(r"/opt/python/cp3\d+-cp3\d+/include/python3\.\d+")
_BUILD_NUMPY_INCLUDE = re.compile(
    r"/opt/python/cp3\d+-cp3\d+/lib/python3\.\d+/site-packages/numpy/(?:_core|core)/include"
)


def fix_cmake_files(prefix: Path) -> list[Path]:
    """Rewrite every exported CMake file under ``prefix/share``; return the files changed."""
    python_include = sysconfig.get_paths()["include"]
    numpy_include = numpy.get_include()
    changed = []
    for cmake_file in sorted((prefix / "share").glob("*/cmake/*.cmake")):
        text = cmake_file.read_text()
        fixed = _BUILD_NUMPY_INCLUDE.sub(numpy_include, text)
        fixed = _BUILD_PYTHON_INCLUDE.sub(python_include, fixed)
        if fixed != text:
            cmake_file.write_text(fixed)
            changed.append(cmake_file)
    return changed


def main() -> None:
    prefix = Path(sys.prefix)
    changed = fix_cmake_files(prefix)
    print(f"fix_ros_wheel_cmake: {len(changed)} CMake file(s) rewritten under {prefix}/share")


if __name__ == "__main__":
    main()
