"""Run the launch graph's nodes on a bag and record what they publish, without `ros2 launch`.

Each node starts as its own process exactly as ``launch/jetson.launch.py`` describes it
(``perception.bringup.graph``: name, namespace, params file, remaps, models dir), or with
``single_process=True`` all of them in one ``perception.bringup.container`` process as
``single_process:=true`` starts them, so the end to end tests and the demo exercise the same
wiring a robot runs. Order of events: start nodes -> record their outputs (waits for the
publishers, i.e. configured nodes) -> wait until every node is active (subscribes to its inputs;
in one process: reports ``active`` through its lifecycle service) -> replay -> wait until the
outputs settle -> stop the nodes (SIGINT, as ``ros2 launch`` does) -> finalise the recorded bag.
Each process's peak memory (RSS; with ``measure_uss`` also the unique set size, pages only that
process maps, and the proportional set size, each shared page split among the processes mapping
it, so a graph's PSS sum counts a library shared by its processes once) and the CPU time it spent
from the replay to the end are kept.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import rclpy
import yaml
from lifecycle_msgs.msg import State
from lifecycle_msgs.srv import GetState
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node

from perception.bags.graph import wait_until
from perception.bags.reading import open_bag, read_messages
from perception.bags.record import BagRecorder
from perception.bags.replay import ReplayStats, replay_bag
from perception.bringup.graph import (
    GraphOptions,
    NodeSpec,
    build_graph,
    container_launch_kwargs,
    output_topic,
    resolve_topic,
)
from perception.core.constants import MODELS_DIR_ENV
from perception.nodes import topics

LOG = logging.getLogger(__name__)
REPO_ROOT = Path(__file__).resolve().parents[3]
PACKAGE_ROOT = REPO_ROOT / "ros_ws" / "src" / "perception"
DEFAULT_PARAMS_FILE = PACKAGE_ROOT / "config" / "desktop.yaml"
DEFAULT_MODELS_DIR = REPO_ROOT / "models"
# Seeing both ends of a topic in the graph precedes their DDS match by a moment.
_MATCH_GRACE_S = 1.0
CONTAINER_PROCESS = "perception_container"


class GraphRunError(RuntimeError):
    """A node of the graph failed to come up or died; the message carries its log tail."""


@dataclass(frozen=True)
class GraphRun:
    """Where a run left its results."""

    recorded: Path
    logs: dict[str, Path]
    replay: ReplayStats
    recorded_messages: int
    peak_rss_mib: dict[str, float]  # per process (node name, or perception_container), sampled every 0.2 s
    peak_uss_mib: dict[str, float]  # the same for the unique set size (only with measure_uss)
    peak_total_uss_mib: float  # the largest sum over the processes at one sample (only with measure_uss)
    peak_pss_mib: dict[str, float]  # the same for the proportional set size (only with measure_uss)
    peak_total_pss_mib: float
    cpu_s: dict[str, float]  # per process, CPU time (user + system) from the replay until outputs settled


def node_command(
    spec: NodeSpec, options: GraphOptions, params_file: Path, overrides: Mapping[str, Any]
) -> list[str]:
    """The command line of one node: ``python -m <node module> --ros-args ...``."""
    module = spec.parameters_spec.split(":")[0]
    args = [sys.executable, "-m", module, "--ros-args", "-r", f"__node:={spec.name}"]
    args += ["-r", f"__ns:=/{options.namespace.strip('/')}", "--params-file", str(params_file)]
    for name, value in {"autostart": True, **spec.extra_parameters, **overrides}.items():
        args += ["-p", f"{name}:={_parameter_text(value)}"]
    for source, target in spec.remaps:
        args += ["-r", f"{source}:={target}"]
    return args


def container_command(
    graph: Sequence[NodeSpec], options: GraphOptions, params_files: Sequence[Path]
) -> list[str]:
    """The command line of the single-process container running ``graph``, as the launch file wires it."""
    kwargs = container_launch_kwargs(graph, options, "", "")
    args = [sys.executable, "-m", "perception.bringup.container", "--ros-args"]
    args += ["-r", f"__ns:=/{options.namespace.strip('/')}"]
    for params_file in params_files:
        args += ["--params-file", str(params_file)]
    for name, value in kwargs["parameters"][1].items():
        args += ["-p", f"{name}:={_parameter_text(value)}"]
    for source, target in kwargs["remappings"]:
        args += ["-r", f"{source}:={target}"]
    return args


def run_graph_on_bag(
    bag: Path,
    out_dir: Path,
    nodes: Sequence[str],
    record: Sequence[str],
    *,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    params_file: Path | None = None,
    models_dir: Path | None = None,
    options: GraphOptions | None = None,
    rate: float = 1.0,
    startup_timeout_s: float = 120.0,
    settle_s: float = 3.0,
    single_process: bool = False,
    measure_uss: bool = False,
) -> GraphRun:
    """Start ``nodes``, replay ``bag`` into them, record ``record`` into ``out_dir/recorded``.

    Relative ``record`` topics resolve as the node publishing them resolves them (namespace and
    remaps, e.g. ``caption`` -> ``/caption``); absolute ones (the camera) are recorded as they are.
    """
    options = options or GraphOptions()
    overrides = overrides or {}
    out_dir.mkdir(parents=True, exist_ok=True)
    graph = build_graph(nodes, options)
    topics = [output_topic(graph, topic, options.namespace) for topic in record]
    env = {**os.environ, MODELS_DIR_ENV: str(models_dir or DEFAULT_MODELS_DIR)}
    recorded = out_dir / "recorded"
    params = params_file or DEFAULT_PARAMS_FILE
    if single_process:
        commands = {
            CONTAINER_PROCESS: container_command(
                graph, options, [params, *_overrides_file(overrides, out_dir)]
            )
        }
    else:
        commands = {
            spec.name: node_command(spec, options, params, overrides.get(spec.name, {})) for spec in graph
        }
    with (
        _processes(commands, env, out_dir, measure_uss) as procs,
        _ros_node("perception_graph_runner") as node,
        BagRecorder(node, recorded, topics, discovery_timeout_s=startup_timeout_s) as recorder,
    ):
        if single_process:
            _wait_for_container(node, graph, options, procs, startup_timeout_s)
        else:
            _wait_for_graph(node, graph, options, procs, startup_timeout_s)
        cpu_before = procs.cpu_times()
        stats = replay_bag(bag, node, rate=rate, topics=_camera_topics(bag, options))
        _wait_until_settled(lambda: recorder.count, procs, settle_s)
        cpu_after = procs.cpu_times()
        count = recorder.count
    logs = {spec.name: procs.logs[CONTAINER_PROCESS if single_process else spec.name] for spec in graph}
    return GraphRun(
        recorded=recorded,
        logs=logs,
        replay=stats,
        recorded_messages=count,
        peak_rss_mib=_mib(procs.peak_rss),
        peak_uss_mib=_mib(procs.peak_uss),
        peak_total_uss_mib=round(procs.peak_total_uss / 2**20, 1),
        peak_pss_mib=_mib(procs.peak_pss),
        peak_total_pss_mib=round(procs.peak_total_pss / 2**20, 1),
        cpu_s={
            name: round(cpu_after[name] - cpu_before[name], 3) for name in cpu_after if name in cpu_before
        },
    )


def recorded_by_stamp(recorded: Path, topic: str) -> dict[int, Any]:
    """Messages of ``topic`` in a recorded bag keyed by header stamp in nanoseconds."""
    return {
        msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec: msg
        for _, _, msg in read_messages(recorded, [topic])
    }


def _mib(values: Mapping[str, int]) -> dict[str, float]:
    return {name: round(value / 2**20, 1) for name, value in values.items()}


def _overrides_file(overrides: Mapping[str, Mapping[str, Any]], out_dir: Path) -> list[Path]:
    """Per-node overrides as a params file: in one process a ``-p`` would reach every node."""
    if not overrides:
        return []
    path = out_dir / "overrides.yaml"
    sections = {f"/**/{name}": {"ros__parameters": dict(values)} for name, values in overrides.items()}
    path.write_text(yaml.safe_dump(sections))
    return [path]


@dataclass
class _Processes:
    running: dict[str, subprocess.Popen[bytes]]
    logs: dict[str, Path]
    measure_uss: bool = False
    peak_rss: dict[str, int] = field(default_factory=dict)
    peak_uss: dict[str, int] = field(default_factory=dict)
    peak_total_uss: int = 0
    peak_pss: dict[str, int] = field(default_factory=dict)
    peak_total_pss: int = 0

    def sample_memory(self, stop: threading.Event, period_s: float = 0.2) -> None:
        """Track each process's peak resident (and unique and proportional) memory until ``stop`` is set."""
        while not stop.wait(period_s):
            total_uss = total_pss = 0
            for name, proc in list(self.running.items()):
                with suppress(psutil.Error):
                    process = psutil.Process(proc.pid)
                    rss = process.memory_info().rss
                    self.peak_rss[name] = max(rss, self.peak_rss.get(name, 0))
                    if self.measure_uss:
                        full = process.memory_full_info()  # reads smaps: only when asked
                        self.peak_uss[name] = max(full.uss, self.peak_uss.get(name, 0))
                        self.peak_pss[name] = max(full.pss, self.peak_pss.get(name, 0))
                        total_uss += full.uss
                        total_pss += full.pss
            self.peak_total_uss = max(self.peak_total_uss, total_uss)
            self.peak_total_pss = max(self.peak_total_pss, total_pss)

    def cpu_times(self) -> dict[str, float]:
        """CPU seconds (user + system) each running process has used so far."""
        seconds = {}
        for name, proc in self.running.items():
            with suppress(psutil.Error):
                times = psutil.Process(proc.pid).cpu_times()
                seconds[name] = times.user + times.system
        return seconds

    def check_alive(self) -> None:
        for name, proc in self.running.items():
            if proc.poll() is not None:
                raise GraphRunError(f"{name} exited with status {proc.returncode}:\n{_tail(self.logs[name])}")


@contextmanager
def _processes(
    commands: Mapping[str, list[str]], env: Mapping[str, str], out_dir: Path, measure_uss: bool
) -> Iterator[_Processes]:
    procs = _Processes(running={}, logs={}, measure_uss=measure_uss)
    stop_sampling = threading.Event()
    sampler = threading.Thread(target=procs.sample_memory, args=(stop_sampling,), daemon=True)
    try:
        for name, command in commands.items():
            log_path = out_dir / f"{name}.log"
            with open(log_path, "wb") as log:
                procs.running[name] = subprocess.Popen(
                    command, stdout=log, stderr=subprocess.STDOUT, env=dict(env)
                )
            procs.logs[name] = log_path
            LOG.info("started %s: %s", name, " ".join(command))
        sampler.start()
        yield procs
    finally:
        stop_sampling.set()
        _stop(procs)


def _stop(procs: _Processes, timeout_s: float = 15.0) -> None:
    for proc in procs.running.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    for name, proc in procs.running.items():
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            LOG.warning("%s ignored SIGINT for %.0f s; killing it", name, timeout_s)
            proc.kill()
            proc.wait()


@contextmanager
def _ros_node(name: str) -> Iterator[Node]:
    context = rclpy.Context()
    rclpy.init(context=context)
    node = Node(name, context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    try:
        yield node
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown(context=context)
        spinner.join(5.0)


def _camera_topics(bag: Path, options: GraphOptions) -> list[str]:
    """The bag's camera topics (raw and/or compressed); ground truth is not replayed."""
    with open_bag(bag) as reader:
        camera = (options.camera_topic, f"{options.camera_topic}/compressed")
        topics = [topic for topic in reader.topics if topic in camera]
    if not topics:
        raise GraphRunError(f"bag {bag} has no {options.camera_topic}[/compressed] topic to replay")
    return topics


def _wait_for_graph(
    node: Node, graph: Sequence[NodeSpec], options: GraphOptions, procs: _Processes, timeout_s: float
) -> None:
    """Replay only once every node subscribes to its inputs (is active) and each input that
    another node of the graph publishes has its publisher, so no node misses the first frames'
    results of another. Optional inputs nobody in the graph publishes are not waited for."""
    subscribers: dict[str, int] = {}
    for spec in graph:
        for topic in spec.subscribes:
            resolved = resolve_topic(topic, options.namespace, spec.remaps)
            subscribers[resolved] = subscribers.get(resolved, 0) + 1
    published = {resolve_topic(t, options.namespace, spec.remaps) for spec in graph for t in spec.publishes}
    between_nodes = [topic for topic in subscribers if topic in published]

    def ready() -> bool:
        procs.check_alive()
        return all(node.count_subscribers(t) >= n for t, n in subscribers.items()) and all(
            node.count_publishers(t) >= 1 for t in between_nodes
        )

    if not wait_until(ready, timeout_s, poll_s=0.2):
        raise GraphRunError(f"nodes did not connect {sorted(subscribers)} within {timeout_s:.0f} s")
    time.sleep(_MATCH_GRACE_S)


def _wait_for_container(
    node: Node, graph: Sequence[NodeSpec], options: GraphOptions, procs: _Processes, timeout_s: float
) -> None:
    """Replay only once every node of the container reports ``active`` and the camera has its
    (one, shared) subscriber; the nodes' inputs between each other are in-process."""
    namespace = "/" + options.namespace.strip("/")
    clients = {
        spec.name: node.create_client(GetState, f"{namespace.rstrip('/')}/{spec.name}/get_state")
        for spec in graph
    }
    camera_inputs = {
        resolve_topic(t, options.namespace, spec.remaps)
        for spec in graph
        for t in spec.subscribes
        if t in (topics.IMAGE, topics.IMAGE_COMPRESSED)
    }

    states = dict.fromkeys(clients, "no service")

    def active(name: str) -> bool:
        if not clients[name].service_is_ready():
            return False
        future = clients[name].call_async(GetState.Request())
        done = threading.Event()
        future.add_done_callback(lambda _: done.set())
        if not done.wait(5.0):
            states[name] = "no answer"
            return False
        states[name] = future.result().current_state.label
        return future.result().current_state.id == State.PRIMARY_STATE_ACTIVE

    def ready() -> bool:
        procs.check_alive()
        every_node = [active(name) for name in clients]
        return all(every_node) and all(node.count_subscribers(t) >= 1 for t in camera_inputs)

    try:
        if not wait_until(ready, timeout_s, poll_s=0.5):
            log = _tail(procs.logs[CONTAINER_PROCESS])
            raise GraphRunError(f"not all nodes active within {timeout_s:.0f} s: {states}\n{log}")
    finally:
        for client in clients.values():
            node.destroy_client(client)
    time.sleep(_MATCH_GRACE_S)


def _wait_until_settled(count: Any, procs: _Processes, settle_s: float) -> None:
    """Wait until no output has been recorded for ``settle_s`` (the nodes drained their input)."""
    last, last_change = count(), time.monotonic()
    while time.monotonic() - last_change < settle_s:
        time.sleep(0.1)
        procs.check_alive()
        if (now := count()) != last:
            last, last_change = now, time.monotonic()


def _parameter_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_parameter_text(v) for v in value) + "]"
    return str(value)


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
