"""package.xml keys for what the runtime imports; nothing GUI-only in a headless robot's set."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from catkin_pkg.package import parse_package

REPO = Path(__file__).resolve().parents[2]
SOURCES = REPO / "ros_ws" / "src" / "perception" / "perception"
PACKAGE_XMLS = [REPO / "package.xml", REPO / "ros_ws" / "src" / "perception" / "package.xml"]
# Third-party modules the runtime imports that a ROS distribution packages (rosdep keys).
ROSDEP_KEYS = {"numpy": "python3-numpy", "cv2": "python3-opencv", "yaml": "python3-yaml",
               "matplotlib": "python3-matplotlib", "psutil": "python3-psutil"}


def _imported_top_levels() -> set[str]:
    names: set[str] = set()
    for source in SOURCES.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package_xml", PACKAGE_XMLS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_imported_system_module_has_its_rosdep_key(package_xml: Path) -> None:
    depends = {dep.name for dep in parse_package(str(package_xml)).exec_depends}
    imported = _imported_top_levels()
    assert "numpy" in imported and "cv2" in imported  # the scan sees the runtime's imports
    missing = {ROSDEP_KEYS[m] for m in imported & set(ROSDEP_KEYS)} - depends
    assert not missing, f"{package_xml}: add {sorted(missing)}"
    unused = {key for module, key in ROSDEP_KEYS.items() if module not in imported} & depends
    assert not unused, f"{package_xml}: nothing in the runtime imports what {sorted(unused)} provide"


@pytest.mark.parametrize("package_xml", PACKAGE_XMLS, ids=lambda p: str(p.relative_to(REPO)))
def test_rviz2_is_not_a_run_dependency(package_xml: Path) -> None:
    """rviz2 drags Qt/Ogre into a headless image; the launch file checks for it when asked."""
    depends = {dep.name for dep in parse_package(str(package_xml)).exec_depends}
    assert "rviz2" not in depends
