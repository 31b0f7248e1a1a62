"""Run the launch graph's nodes on a bag and record what they publish, without `ros2 launch`.

Each node starts as its own process exactly as ``launch/jetson.launch.py`` describes it
(``perception.bringup.graph``: name, namespace, params file, remaps, models dir), so the end
to end tests and the demo exercise the same wiring a robot runs. Order of events:
start nodes -> record their outputs (waits for the publishers, i.e. configured nodes) -> wait
until every node subscribes to its inputs (activated) -> replay -> wait until the outputs
settle -> stop the nodes (SIGINT, as ``ros2 launch`` does) -> finalise the recorded bag.
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
    output_topic,
    resolve_topic,
)
from perception.core.constants import MODELS_DIR_ENV

LOG = logging.getLogger(__name__)
REPO_ROOT = Path(__file__).resolve().parents[3]
PACKAGE_ROOT = REPO_ROOT / "ros_ws" / "src" / "perception"
DEFAULT_PARAMS_FILE = PACKAGE_ROOT / "config" / "desktop.yaml"
DEFAULT_MODELS_DIR = REPO_ROOT / "models"
# Seeing both ends of a topic in the graph precedes their DDS match by a moment.
_MATCH_GRACE_S = 1.0


class GraphRunError(RuntimeError):
    """A node of the graph failed to come up or died; the message carries its log tail."""


@dataclass(frozen=True)
class GraphRun:
    """Where a run left its results."""

    recorded: Path
    logs: dict[str, Path]
    replay: ReplayStats
    recorded_messages: int
    peak_rss_mib: dict[str, float]  # per node process, sampled every 0.2 s while it ran


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
) -> GraphRun:
    """Start ``nodes``, replay ``bag`` into them, record ``record`` into ``out_dir/recorded``.

    Relative ``record`` topics resolve as the node publishing them resolves them (namespace and
    remaps, e.g. ``caption`` -> ``/caption``).
    """
    options = options or GraphOptions()
    overrides = overrides or {}
    out_dir.mkdir(parents=True, exist_ok=True)
    graph = build_graph(nodes, options)
    topics = [output_topic(graph, topic, options.namespace) for topic in record]
    env = {**os.environ, MODELS_DIR_ENV: str(models_dir or DEFAULT_MODELS_DIR)}
    recorded = out_dir / "recorded"
    params = params_file or DEFAULT_PARAMS_FILE
    with (
        _processes(graph, options, params, overrides, env, out_dir) as procs,
        _ros_node("perception_graph_runner") as node,
        BagRecorder(node, recorded, topics, discovery_timeout_s=startup_timeout_s) as recorder,
    ):
        _wait_for_graph(node, graph, options, procs, startup_timeout_s)
        stats = replay_bag(bag, node, rate=rate, topics=_camera_topics(bag, options))
        _wait_until_settled(lambda: recorder.count, procs, settle_s)
        count = recorder.count
    return GraphRun(
        recorded=recorded,
        logs=procs.logs,
        replay=stats,
        recorded_messages=count,
        peak_rss_mib={name: round(rss / 2**20, 1) for name, rss in procs.peak_rss.items()},
    )


def recorded_by_stamp(recorded: Path, topic: str) -> dict[int, Any]:
    """Messages of ``topic`` in a recorded bag keyed by header stamp in nanoseconds."""
    return {
        msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec: msg
        for _, _, msg in read_messages(recorded, [topic])
    }


@dataclass
class _Processes:
    running: dict[str, subprocess.Popen[bytes]]
    logs: dict[str, Path]
    peak_rss: dict[str, int] = field(default_factory=dict)

    def sample_rss(self, stop: threading.Event, period_s: float = 0.2) -> None:
        """Track each node's peak resident memory until ``stop`` is set."""
        while not stop.wait(period_s):
            for name, proc in list(self.running.items()):
                with suppress(psutil.Error):
                    rss = psutil.Process(proc.pid).memory_info().rss
                    self.peak_rss[name] = max(rss, self.peak_rss.get(name, 0))

    def check_alive(self) -> None:
        for name, proc in self.running.items():
            if proc.poll() is not None:
                raise GraphRunError(f"{name} exited with status {proc.returncode}:\n{_tail(self.logs[name])}")


@contextmanager
def _processes(
    graph: Sequence[NodeSpec],
    options: GraphOptions,
    params_file: Path,
    overrides: Mapping[str, Mapping[str, Any]],
    env: Mapping[str, str],
    out_dir: Path,
) -> Iterator[_Processes]:
    procs = _Processes(running={}, logs={})
    stop_sampling = threading.Event()
    sampler = threading.Thread(target=procs.sample_rss, args=(stop_sampling,), daemon=True)
    try:
        for spec in graph:
            command = node_command(spec, options, params_file, overrides.get(spec.name, {}))
            log_path = out_dir / f"{spec.name}.log"
            with open(log_path, "wb") as log:
                procs.running[spec.name] = subprocess.Popen(
                    command, stdout=log, stderr=subprocess.STDOUT, env=dict(env)
                )
            procs.logs[spec.name] = log_path
            LOG.info("started %s: %s", spec.name, " ".join(command))
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
