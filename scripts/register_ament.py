"""Register the editable `perception` package in the venv's ament index, as colcon would.

A pip editable install skips setup.py's data_files, so without this `ros2 launch perception
...`, `ros2 run perception <node>` and `get_package_share_directory("perception")` find
nothing. This lays out the venv prefix exactly like `colcon build --symlink-install`: every
data file as a per-file link (ros2 launch ignores a launch/ folder that is itself a link) and
lib/perception/<console script> linking to the script pip wrote in bin/. colcon's own
setup.py reader and data_files mapping are used, so the layout cannot drift from a colcon build.

It also installs a .pth hook that appends the venv to AMENT_PREFIX_PATH (the venv is the ROS
prefix here, and ament_index_python finds nothing without that variable).

Usage: python scripts/register_ament.py PACKAGE_DIR   (run with the venv's python)
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from pathlib import Path

from colcon_core.task.python import get_data_files_mapping
from colcon_python_setup_py.package_identification.python_setup_py import get_setup_information

PTH_NAME = "perception_ament_prefix.pth"
# One line: .pth files run lines that start with "import". Appends, so a sourced ROS
# workspace listed first keeps precedence.
PTH_LINE = (
    "import os, sys; _p = [p for p in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep) if p]; "
    "sys.prefix in _p or os.environ.__setitem__('AMENT_PREFIX_PATH', os.pathsep.join([*_p, sys.prefix]))\n"
)


def _link(source: Path, destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    destination.symlink_to(os.path.relpath(source, destination.parent))


def console_scripts(setup: dict) -> list[str]:
    """Names of the package's console scripts (``name = module:function`` entries)."""
    entries = (setup.get("entry_points") or {}).get("console_scripts", [])
    return [entry.split("=")[0].strip() for entry in entries]


def register(package_dir: Path, prefix: Path) -> list[Path]:
    """Lay out ``package_dir``'s data files and executables under ``prefix``; returns the links."""
    setup = get_setup_information(package_dir / "setup.py")
    name = setup["metadata"]["name"]
    for owned in (prefix / "share" / name, prefix / "lib" / name):
        shutil.rmtree(owned, ignore_errors=True)
    index_marker = prefix / "share" / "ament_index" / "resource_index" / "packages" / name
    index_marker.unlink(missing_ok=True)
    links = []
    for source, destination in get_data_files_mapping(setup.get("data_files") or []).items():
        links.append(prefix / destination)
        _link(package_dir / source, links[-1])
    for script in console_scripts(setup):
        executable = prefix / "bin" / script
        if not executable.is_file():
            raise SystemExit(f"register_ament: {executable} missing; install {name} (pip -e) first")
        links.append(prefix / "lib" / name / script)
        _link(executable, links[-1])
    if not index_marker.exists():
        raise SystemExit(f"register_ament: setup.py of {name} installs no ament index marker")
    return links


def install_prefix_hook(prefix: Path) -> None:
    site_packages = Path(sysconfig.get_paths(vars={"base": str(prefix)})["purelib"])
    (site_packages / PTH_NAME).write_text(PTH_LINE)


def main() -> None:
    package_dir = Path(sys.argv[1]).resolve()
    prefix = Path(sys.prefix)
    links = register(package_dir, prefix)
    install_prefix_hook(prefix)
    print(f"register_ament: {len(links)} files of {package_dir.name} linked under {prefix}")


if __name__ == "__main__":
    main()
