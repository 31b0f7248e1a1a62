"""Installed node scripts run under the venv's interpreter, whatever python ran colcon.

On a ROS install colcon is /usr/bin/colcon (``#!/usr/bin/python3``) and runs setup.py with that
python; the stack's Python libraries (torch, ultralytics) live in a venv. The console scripts must
therefore not carry the build interpreter in their shebang. Here colcon runs from a scratch venv
of another interpreter that has no torch, and the installed ``detector_node`` is started with the
dev venv first on PATH: it imports torch, rclpy and the node module and reaches ``rclpy.init``
(stopped there by an unknown ROS argument, so no node is left running).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "ros_ws" / "src" / "perception"
pytestmark = pytest.mark.slow


def _other_python() -> str:
    for candidate in ("/usr/bin/python3", getattr(sys, "_base_executable", "")):
        venv_python = Path(sys.executable).resolve()
        if candidate and Path(candidate).is_file() and Path(candidate).resolve() != venv_python:
            return candidate
    pytest.skip("no interpreter other than the venv's to run colcon with")


@pytest.fixture(scope="module")
def colcon_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv of another interpreter with colcon (and setuptools) but no torch, as /usr/bin/colcon."""
    base = _other_python()
    venv = tmp_path_factory.mktemp("colcon-venv")
    made = subprocess.run([base, "-m", "venv", str(venv)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"{base} -m venv failed (python3-venv missing?): {made.stderr.strip()[-300:]}")
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    pip += ["-c", str(REPO / "requirements" / "constraints.txt"), "colcon-core", "colcon-ros",
            "colcon-python-setup-py", "colcon-library-path"]
    installed = subprocess.run(pip, capture_output=True, text=True, timeout=600)
    if installed.returncode != 0:
        reason = installed.stderr[-500:]
        pytest.skip(f"colcon could not be installed for {base} (no package index?): {reason}")
    check = subprocess.run([str(venv / "bin" / "python"), "-c", "import torch"], capture_output=True)
    assert check.returncode != 0, "the build interpreter must not see torch, or the test proves nothing"
    return venv / "bin" / "python"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("_ROS_WHEELS_BOOTSTRAP_COMPLETE", "PYTHONPATH")}
    env.update(extra)
    return env


@pytest.fixture(scope="module", params=["install", "symlink-install"])
def installed(
    request: pytest.FixtureRequest, colcon_python: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    work = tmp_path_factory.mktemp(request.param)
    command = [str(colcon_python), "-m", "colcon", "--log-base", str(work / "log"), "build",
               "--base-paths", str(PACKAGE), "--build-base", str(work / "build"),
               "--install-base", str(work / "install")]
    if request.param == "symlink-install":
        command.append("--symlink-install")
    env = _env(PATH=f"{colcon_python.parent}{os.pathsep}{os.environ['PATH']}")
    result = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return work / "install" / "perception"


def test_scripts_do_not_name_the_build_interpreter(installed: Path, colcon_python: Path) -> None:
    scripts = sorted((installed / "lib" / "perception").iterdir())
    assert {p.name for p in scripts} >= {"detector_node", "caption_node", "glass_node", "hazard_node"}
    for script in scripts:
        assert script.read_text().splitlines()[0] == "#!/usr/bin/env python3", script


def _start(installed: Path, path_first: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    # What colcon's setup.bash puts on PYTHONPATH (and, for --symlink-install, the build folder).
    paths = [str(next((installed / "lib").glob("python3*/site-packages")))]
    develop = installed.parents[1] / "build" / "perception"
    if (develop / "perception.egg-info").is_dir():
        paths.append(str(develop))
    env = _env(PATH=f"{path_first}{os.pathsep}{os.environ['PATH']}", PYTHONPATH=os.pathsep.join(paths),
               ROS_LOG_DIR=str(tmp_path / "ros_log"), OMP_NUM_THREADS="1")
    script = installed / "lib" / "perception" / "detector_node"
    return subprocess.run([str(script), "--ros-args", "--not-a-ros-argument"], env=env,
                          capture_output=True, text=True, timeout=300)


def test_installed_node_runs_under_the_venv_and_sees_torch(installed: Path, tmp_path: Path) -> None:
    result = _start(installed, Path(sys.executable).parent, tmp_path)
    output = result.stdout + result.stderr
    # Every import (torch via perception.core.detector, rclpy, the messages) succeeded: the script
    # got as far as rclpy.init, which refuses the argument.
    assert "ModuleNotFoundError" not in output, output[-3000:]
    assert "UnknownROSArgsError" in output and "--not-a-ros-argument" in output, output[-3000:]
    assert str(Path(sys.prefix)) in output  # the traceback runs through the venv's site-packages


def test_control_the_build_interpreter_could_not_have_run_it(installed: Path, colcon_python: Path,
                                                             tmp_path: Path) -> None:
    """The same script with the torch-less build venv first on PATH fails on an import."""
    result = _start(installed, colcon_python.parent, tmp_path)
    assert result.returncode != 0
    assert "ModuleNotFoundError" in result.stderr, result.stderr[-2000:]


def test_console_script_header_is_declared_for_both_build_modes() -> None:
    setup_cfg = (PACKAGE / "setup.cfg").read_text()
    assert "[build_scripts]\nexecutable = /usr/bin/env python3" in setup_cfg
    assert "cmdclass" in (PACKAGE / "setup.py").read_text()
    assert shutil.which("env", path="/usr/bin:/bin")
