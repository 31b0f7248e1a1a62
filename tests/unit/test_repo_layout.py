"""Checks that keep the repository's build and packaging files consistent with each other."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from catkin_pkg.package import parse_package

REPO = Path(__file__).resolve().parents[2]
ROS_PACKAGES = ("perception_msgs", "perception")
CORE = REPO / "ros_ws" / "src" / "perception" / "perception" / "core"


def _dependency_names(package_xml: Path) -> set[str]:
    package = parse_package(str(package_xml))
    groups = (
        package.build_depends,
        package.buildtool_depends,
        package.exec_depends,
        package.test_depends,
    )
    return {dep.name for group in groups for dep in group}


def test_metapackage_lists_every_external_dependency_of_both_packages() -> None:
    """rosdep stops at the root package.xml, so it must carry both packages' dependencies."""
    root = _dependency_names(REPO / "package.xml")
    needed: set[str] = set()
    for name in ROS_PACKAGES:
        needed |= _dependency_names(REPO / "ros_ws" / "src" / name / "package.xml")
    external = needed - set(ROS_PACKAGES)
    assert external <= root, f"add to package.xml: {sorted(external - root)}"
    assert not root & set(ROS_PACKAGES), "rosdep cannot resolve the workspace's own packages"


def test_core_never_imports_rclpy() -> None:
    """Model and inference code must stay usable without ROS."""
    offenders = []
    for source in CORE.rglob("*.py"):
        tree = ast.parse(source.read_text(), filename=str(source))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{source.relative_to(REPO)}: {n}" for n in names if n.split(".")[0] == "rclpy"]
    assert not offenders, offenders


@pytest.mark.parametrize("dockerfile", sorted((REPO / "docker").glob("Dockerfile.*")), ids=lambda p: p.name)
def test_dockerfile_copy_sources_exist(dockerfile: Path) -> None:
    """Docker cannot be built here, so at least every COPY source must exist in the repo."""
    missing = []
    for line in dockerfile.read_text().splitlines():
        match = re.match(r"\s*COPY\s+(?!--from)(.+)", line)
        if match:
            *sources, _destination = match.group(1).split()
            missing += [s for s in sources if not (REPO / s).exists()]
    assert not missing, f"{dockerfile.name} copies paths that do not exist: {missing}"


def test_ci_runs_the_readme_test_command() -> None:
    """CI must run exactly what README tells a new user to run for the tests."""
    readme = (REPO / "README.md").read_text()
    ci_script = (REPO / ".ci" / "run").read_text()
    assert "make test" in readme
    assert re.search(r"^make test$", ci_script, flags=re.MULTILINE)
