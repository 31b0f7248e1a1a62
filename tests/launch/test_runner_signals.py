"""run_node under the signals ``ros2 launch`` and a terminal send: no error line, clean exit.

Ctrl-C in a terminal reaches every node of the process group and launch then forwards its own
SIGINT, so a node sees two; and a SIGINT can arrive while the node is still configuring (model
loading holds the interpreter). A small node with a slow pure-Python ``load_model`` stands in
for the real ones, so these run without ROS tools or trained models.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

NODE = '''
import time
from dataclasses import dataclass
from perception.nodes.framework.managed_node import ManagedNode
from perception.nodes.framework.parameters import param
from perception.nodes.framework.runner import run_node

@dataclass(frozen=True)
class Params:
    load_s: float = param(0.0, "seconds the model takes to load")

class SlowNode(ManagedNode):
    parameters_spec = Params
    def __init__(self):
        super().__init__("signal_probe")
    def load_model(self, params):
        end = time.monotonic() + params.load_s
        while time.monotonic() < end:  # holds the GIL like an import or a model load
            sum(range(1000))
        return object()
    def create_outputs(self, params):
        self.create_output(__import__("std_msgs.msg").msg.String, "probe")
    def on_activate(self, state):
        result = super().on_activate(state)
        print("ACTIVE", flush=True)
        return result

print("STARTED", flush=True)
run_node(SlowNode)
'''
ERROR_MARKERS = ("ERROR", "Failed to", "Traceback", "KeyboardInterrupt", "terminate called")


def start(tmp_path: Path, load_s: float) -> tuple[subprocess.Popen, Path]:
    """The probe node as a terminal or ``ros2 launch`` starts it: SIGINT at its default.

    A child inherits an ignored SIGINT, and Python then installs no KeyboardInterrupt handler;
    the pytest process can have SIGINT ignored by the time this runs (something earlier in the
    suite leaves it so), which is not how a node is started.
    """
    log = tmp_path / "node.log"
    command = [sys.executable, "-c", NODE, "--ros-args", "-p", f"load_s:={load_s}"]
    with log.open("w") as output:
        process = subprocess.Popen(
            command,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=dict(os.environ),
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
    return process, log


def wait_for(log: Path, marker: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while marker not in log.read_text():
        assert time.monotonic() < deadline, f"no {marker!r} in {log.read_text()!r}"
        time.sleep(0.02)


def assert_clean_exit(process: subprocess.Popen, log: Path) -> None:
    assert process.wait(timeout=10) == 0, log.read_text()
    text = log.read_text()
    assert not [m for m in ERROR_MARKERS if m in text], text


@pytest.mark.parametrize("repeat", range(3))
def test_sigint_while_configuring_ends_without_a_failed_transition(tmp_path: Path, repeat: int) -> None:
    process, log = start(tmp_path, load_s=3.0)
    wait_for(log, "STARTED")
    time.sleep(0.8 + 0.2 * repeat)  # inside load_model
    process.send_signal(signal.SIGINT)
    assert_clean_exit(process, log)


def test_a_second_sigint_during_clean_up_is_ignored(tmp_path: Path) -> None:
    process, log = start(tmp_path, load_s=0.0)
    wait_for(log, "ACTIVE")
    process.send_signal(signal.SIGINT)  # the terminal's Ctrl-C ...
    time.sleep(0.05)  # launch forwards it while the node is cleaning up
    process.send_signal(signal.SIGINT)  # ... and the one ros2 launch forwards
    assert_clean_exit(process, log)
