"""A node process ends cleanly on Ctrl-C with Humble's form of the rclpy APIs the runner uses.

Humble's rclpy cannot be installed here. Its ``rclpy.try_shutdown`` is
``rclpy.utilities.try_shutdown(*, context=None)`` (no ``uninstall_handlers``; see
docs/humble-compat.md), which the newer rclpy still ships, so the child process swaps it in
before the node's ``main()`` runs: the runner's Humble branch then runs for real.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

ERROR_MARKERS = ("ERROR", "Failed to publish", "Traceback", "TypeError", "terminate called")

HUMBLE_RUNNER = """
import sys
import rclpy
import rclpy.utilities
rclpy.try_shutdown = rclpy.utilities.try_shutdown  # Humble's signature: (*, context=None)
from perception.nodes.hazard_node import main
main(sys.argv[1:])
"""


def test_hazard_node_exits_cleanly_with_humbles_try_shutdown(tmp_path: Path, python_executable: str) -> None:
    log = tmp_path / "hazard.log"
    command = [python_executable, "-c", HUMBLE_RUNNER, "--ros-args", "-r", "__node:=hazard_humble_probe"]
    with log.open("w") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=dict(os.environ))
    try:
        deadline = time.monotonic() + 60.0
        while "configured:" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        process.send_signal(signal.SIGINT)
        returncode = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    text = log.read_text()
    assert returncode == 0, f"{returncode}\n{text}"
    assert "releasing rules and notifiers" in text, text
    assert not [m for m in ERROR_MARKERS if m in text], text
