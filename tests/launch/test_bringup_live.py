"""The real launch file under launch_pytest: one graph of all five nodes, shared by the tests.

desktop.launch.py (config/desktop.yaml) starts detector, glass, caption, hazard and sign; a
synthetic scene bag replayed into it must give messages of the expected type on every advertised
topic, and a signing bag SignLabels; the ros2 CLI drives lifecycle transitions, dumps
parameters (which must load back as ``--params-file``) and echoes the custom message types.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from launch_helpers import MODELS, NODES, ROS2, node_names, requires_launch, ros2, wait_until_active

pytestmark = [requires_launch, pytest.mark.slow]
launch_pytest = pytest.importorskip("launch_pytest", reason="launch_pytest not installed")

import rclpy  # noqa: E402
import yaml  # noqa: E402
from ament_index_python.packages import get_package_share_directory  # noqa: E402
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from launch import LaunchDescription  # noqa: E402
from launch.actions import IncludeLaunchDescription  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rosidl_runtime_py import message_to_yaml  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from visualization_msgs.msg import MarkerArray  # noqa: E402

from perception_msgs.msg import Caption, DetectionArray, GlassClassificationArray, HazardAlert, SignLabel  # noqa: E402

ACTIVE_WITHIN_S = 240.0
# Every topic the scene nodes publish, with its type (namespace perception; captions at /caption).
OUTPUTS = {
    "/perception/detections": DetectionArray,
    "/perception/markers": MarkerArray,
    "/perception/debug_image": Image,
    "/perception/glasses": GlassClassificationArray,
    "/perception/glass_markers": MarkerArray,
    "/perception/glass_debug_image": Image,
    "/caption": Caption,
    "/perception/hazard_alerts": HazardAlert,
    "/diagnostics": DiagnosticArray,
}
ECHOED = ["/perception/detections", "/perception/glasses", "/caption", "/perception/hazard_alerts"]


@launch_pytest.fixture(scope="module")
def graph() -> LaunchDescription:
    share = get_package_share_directory("perception")
    arguments = {"models_dir": str(MODELS), "nodes": ",".join(NODES)}
    return LaunchDescription(
        [
            IncludeLaunchDescription(
                PythonLaunchDescriptionSource(os.path.join(share, "launch", "desktop.launch.py")),
                launch_arguments=arguments.items(),
            ),
            launch_pytest.actions.ReadyToTest(),
        ]
    )


def synthetic_bag(out: Path, *options: str) -> Path:
    cli = str(Path(sys.executable).with_name("perception_bag"))
    subprocess.run([cli, "write-synthetic", str(out), *options], check=True, capture_output=True)
    return out


@pytest.fixture(scope="module")
def bag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bag") / "knife_scenes"
    return synthetic_bag(out, "--frames", "20", "--include", "knife", "--include", "wine glass")


@pytest.fixture(scope="module")
def sign_bag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthetic_bag(tmp_path_factory.mktemp("bag") / "signing", "--frames", "150", "--kind", "sign")


@contextmanager
def replaying(bag: Path, outputs: dict[str, type]) -> Iterator[tuple[Node, dict[str, object]]]:
    """Replay ``bag`` in a loop; yields the probe node and the first message on each of ``outputs``."""
    context = rclpy.Context()
    rclpy.init(context=context)
    node = Node("bringup_probe", context=context)
    received: dict[str, object] = {}
    for topic, msg_type in outputs.items():
        node.create_subscription(msg_type, topic, lambda msg, t=topic: received.setdefault(t, msg), 10)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    threading.Thread(target=executor.spin, daemon=True).start()
    player = subprocess.Popen(
        [str(Path(sys.executable).with_name("perception_bag")), "replay", str(bag), "--loop",
         "--wait-for-subscribers", "30"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield node, received
    finally:
        player.terminate()
        player.wait(timeout=30)
        executor.shutdown()
        node.destroy_node()
        rclpy.shutdown(context=context)


def wait_for_all(received: dict[str, object], topics: dict[str, type], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while set(received) != set(topics) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert set(topics) - set(received) == set(), f"nothing on {sorted(set(topics) - set(received))}"


@pytest.mark.launch(fixture=graph)
def test_every_node_comes_up_active() -> None:
    wait_until_active(node_names(NODES), ACTIVE_WITHIN_S)


@pytest.mark.launch(fixture=graph)
def test_a_replayed_bag_gives_every_output_with_its_type(bag: Path) -> None:
    wait_until_active(node_names(NODES), ACTIVE_WITHIN_S)
    echoes = {
        topic: subprocess.Popen([ROS2, "topic", "echo", "--once", topic], stdout=subprocess.PIPE, text=True)
        for topic in ECHOED
    }
    try:
        with replaying(bag, OUTPUTS) as (node, received):
            wait_for_all(received, OUTPUTS, 180.0)
            types = dict(node.get_topic_names_and_types())
            for topic, msg_type in OUTPUTS.items():
                name = f"{msg_type.__module__.split('.')[0]}/msg/{msg_type.__name__}"
                assert types[topic] == [name], (topic, types[topic])
                assert message_to_yaml(received[topic])  # what `ros2 topic echo` prints
            for topic, echo in echoes.items():
                out, _ = echo.communicate(timeout=60)
                assert echo.returncode == 0 and "header:" in out, (topic, out)
    finally:
        for echo in echoes.values():
            echo.kill()
            echo.wait()


@pytest.mark.launch(fixture=graph)
def test_a_signing_stream_gives_sign_labels(sign_bag: Path) -> None:
    wait_until_active(node_names(NODES), ACTIVE_WITHIN_S)
    topic = "/perception/sign"
    with replaying(sign_bag, {topic: SignLabel}) as (_, received):
        wait_for_all(received, {topic: SignLabel}, 180.0)
        label = received[topic]
    assert label.label and label.label != "_idle_" and 0.0 < label.score <= 1.0, label
    assert label.top_labels[0] == label.label and label.model_id.startswith("x3d_xs_sign"), label
    assert (label.clip_end.sec, label.clip_end.nanosec) > (label.clip_start.sec, label.clip_start.nanosec)


@pytest.mark.launch(fixture=graph)
def test_lifecycle_and_parameter_dump_round_trip_through_the_cli(tmp_path: Path) -> None:
    """Dump every node and restart each from its dump; cycle the detector through cleanup."""
    names = node_names(NODES)
    wait_until_active(names, ACTIVE_WITHIN_S)
    dumps = {}
    for name in names:
        dumps[name] = tmp_path / f"{name.rsplit('/', 1)[1]}.yaml"
        dumps[name].write_text(ros2("param", "dump", name))
        values = next(iter(yaml.safe_load(dumps[name].read_text()).values()))["ros__parameters"]
        assert None not in values.values(), f"{name} dumps null: {values}"
    detector = names[0]
    for transition in ("deactivate", "cleanup"):
        assert "Transitioning successful" in ros2("lifecycle", "set", detector, transition)
    assert ros2("lifecycle", "get", detector).startswith("unconfigured")
    for transition in ("configure", "activate"):
        assert "Transitioning successful" in ros2("lifecycle", "set", detector, transition, timeout=120)
    assert ros2("lifecycle", "get", detector).startswith("active")
    round_trip(dumps)


def round_trip(dumps: dict[str, Path]) -> None:
    """Start each node again with its dump as --params-file: every one must reach active."""
    processes = {}
    env = {**os.environ, "PERCEPTION_MODELS_DIR": str(MODELS)}
    for name, dump in dumps.items():
        executable = name.rsplit("/", 1)[1]
        command = [
            str(Path(sys.executable).with_name(executable)), "--ros-args",
            "-r", f"__node:={executable}", "-r", "__ns:=/roundtrip", "--params-file", str(dump),
        ]
        log = dump.with_suffix(".log")
        with log.open("w") as output:
            process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env)
        processes[name] = (process, log)
    try:
        wait_until_active([n.replace("/perception/", "/roundtrip/") for n in dumps], ACTIVE_WITHIN_S)
    finally:  # stop every node before judging any, so a failure leaves no process behind
        for process, _ in processes.values():
            process.send_signal(signal.SIGINT)
        codes = {name: _wait_or_kill(process) for name, (process, _) in processes.items()}
        for name, (_, log) in processes.items():
            assert codes[name] == 0, log.read_text()
            assert "configure failed" not in log.read_text(), log.read_text()


def _wait_or_kill(process: subprocess.Popen, timeout_s: float = 30.0) -> int | None:
    """The exit code, or None (and the process killed) if it did not end within ``timeout_s``."""
    try:
        return process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return None
