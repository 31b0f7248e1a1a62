"""The perception package builds with colcon as on a ROS install, data files included."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def colcon(work: Path, verb: str, *extra: str) -> subprocess.CompletedProcess:
    """``colcon <verb>`` of perception alone in ``work``; perception_msgs comes from the venv prefix."""
    prefix = sys.prefix
    env = {**os.environ, "CMAKE_PREFIX_PATH": prefix, "AMENT_PREFIX_PATH": prefix}
    env.pop("_ROS_WHEELS_BOOTSTRAP_COMPLETE", None)
    command = [sys.executable, "-m", "colcon", "--log-base", str(work / "log"), verb]
    command += ["--base-paths", str(REPO / "ros_ws" / "src" / "perception")]
    command += ["--build-base", str(work / "build"), "--install-base", str(work / "install"), *extra]
    return subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace where perception was built with colcon, as on a ROS install."""
    work = tmp_path_factory.mktemp("colcon")
    result = colcon(work, "build")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return work


@pytest.fixture(scope="module")
def install(work: Path) -> Path:
    return work / "install" / "perception"


def test_share_holds_launch_config_rviz_and_index(install: Path) -> None:
    share = install / "share" / "perception"
    for relative in ("package.xml", "launch/jetson.launch.py", "config/jetson.yaml", "rviz/perception.rviz"):
        assert (share / relative).is_file(), f"colcon did not install {relative}"
    assert (install / "share" / "ament_index" / "resource_index" / "packages" / "perception").is_file()


def test_console_scripts_land_where_ros2_run_looks(install: Path) -> None:
    scripts = {p.name for p in (install / "lib" / "perception").iterdir()}
    assert {"detector_node", "perception_bag"} <= scripts


def test_package_share_directory_resolves(install: Path) -> None:
    env = {**os.environ, "AMENT_PREFIX_PATH": f"{install}{os.pathsep}{sys.prefix}"}
    env.pop("_ROS_WHEELS_BOOTSTRAP_COMPLETE", None)
    code = "from ament_index_python.packages import get_package_share_directory as g; print(g('perception'))"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert Path(out.stdout.strip()) == install / "share" / "perception"


def test_colcon_test_runs_the_packages_node_tests(work: Path) -> None:
    """``colcon test`` used to collect 0 tests (exit 5, counted as success): the package's tests
    live in the repository's tests/; its setup.cfg points pytest there. A quick subset here."""
    result = colcon(work, "test", "--pytest-args", "-k", "nan_and_infinite or describe_parameters")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = ElementTree.parse(work / "build" / "perception" / "pytest.xml").getroot()
    suite = report if report.tag == "testsuite" else report.find("testsuite")
    assert int(suite.get("tests")) >= 2 and int(suite.get("failures")) == int(suite.get("errors")) == 0
