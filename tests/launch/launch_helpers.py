"""Shared pieces of the launch tests: the ros2 CLI, the graph's node names, skip reasons.

launch / launch_pytest / the ros2 CLI are not on PyPI: `make setup` installs them when
PERCEPTION_ROS_TOOLS names a folder of their wheels (.ci/run sets it for ../shared/ros-tools).
Without them, or without a registered `perception` package or trained models, these skip.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from perception.bringup.graph import DEFAULT_NAMESPACE, build_graph

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "models"
ROS2 = str(Path(sys.executable).with_name("ros2"))
# The launch file's default nodes and the models they load.
NODES = ["detector", "glass", "caption", "hazard", "sign"]
ARTIFACTS = [
    MODELS / "detector" / "yolo11n_synthetic.safetensors",
    MODELS / "glass" / "mobilenet_v2_glass.safetensors",
    MODELS / "captioner" / "mnv3_gru_en.safetensors",
    MODELS / "sign" / "x3d_xs_sign.safetensors",
]


def launch_skip_reason() -> str | None:
    """Why the launch tests cannot run here, or None."""
    if importlib.util.find_spec("launch_pytest") is None or not Path(ROS2).is_file():
        return "launch_pytest / ros2 CLI not installed (run make setup with PERCEPTION_ROS_TOOLS=<folder>)"
    from ament_index_python.packages import PackageNotFoundError, get_package_share_directory

    try:
        get_package_share_directory("perception")
    except (PackageNotFoundError, OSError) as error:
        return f"perception is not in the ament index ({error}); run make setup"
    missing = [str(a.relative_to(REPO)) for a in ARTIFACTS if not a.is_file()]
    return f"models not trained: {missing}" if missing else None


requires_launch = pytest.mark.skipif(launch_skip_reason() is not None, reason=str(launch_skip_reason()))


def node_names(nodes: list[str], namespace: str = DEFAULT_NAMESPACE) -> list[str]:
    return [f"/{namespace}/{spec.name}" for spec in build_graph(nodes)]


def ros2(*args: str, timeout: float = 60.0, check: bool = True) -> str:
    """Run a ros2 CLI verb; returns stdout (stderr appended to the failure message)."""
    result = subprocess.run([ROS2, *args], capture_output=True, text=True, timeout=timeout)
    if check:
        assert result.returncode == 0, f"ros2 {' '.join(args)}: {result.stdout}{result.stderr}"
    return result.stdout


def wait_until_active(nodes: list[str], timeout: float) -> None:
    """Poll `ros2 lifecycle get` until every node reports active."""
    deadline = time.monotonic() + timeout
    pending = list(nodes)
    while pending:
        states = {name: ros2("lifecycle", "get", name, check=False).strip() for name in pending}
        pending = [name for name, state in states.items() if not state.startswith("active")]
        assert not pending or time.monotonic() < deadline, f"not active after {timeout} s: {states}"
        time.sleep(1.0 if pending else 0)


@contextmanager
def launched(log: Path, *arguments: str) -> Iterator[subprocess.Popen]:
    """`ros2 launch perception jetson.launch.py` in its own process group, output in ``log``;
    whatever is still running at the end is killed, so a failing test leaves nothing behind."""
    command = [ROS2, "launch", "perception", "jetson.launch.py", f"models_dir:={MODELS}", *arguments]
    with log.open("w") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)


def interrupt(process: subprocess.Popen, log: Path) -> float:
    """Ctrl-C as a terminal sends it (SIGINT to the whole group); seconds until a clean exit."""
    begin = time.monotonic()
    os.killpg(process.pid, signal.SIGINT)
    assert process.wait(timeout=30) == 0, log.read_text()
    return time.monotonic() - begin
