"""`ros2 launch perception jetson.launch.py single_process:=true`: every default node in one
process, each active, each lifecycle-transitioned alone with `ros2 lifecycle set` while the
others stay active, and Ctrl-C ends the process cleanly."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest
from launch_helpers import NODES, interrupt, launched, node_names, requires_launch, ros2, wait_until_active

pytestmark = [requires_launch, pytest.mark.slow]


def lifecycle_state(node: str) -> str:
    """`ros2 lifecycle get` prints e.g. "active [3]"."""
    return ros2("lifecycle", "get", node).split()[0]


def test_single_process_brings_every_node_up_and_each_transitions_alone(tmp_path: Path) -> None:
    log = tmp_path / "launch.log"
    names = node_names(NODES)
    with launched(log, "single_process:=true") as process:
        wait_until_active(names, 240.0)
        children = psutil.Process(process.pid).children(recursive=True)
        assert len(children) == 1, f"one process for {len(names)} nodes, got {children}"
        for name in names:
            ros2("lifecycle", "set", name, "deactivate")
            states = {other: lifecycle_state(other) for other in names}
            assert states[name] == "inactive", states
            assert all(state == "active" for other, state in states.items() if other != name), states
            ros2("lifecycle", "set", name, "activate")
            assert lifecycle_state(name) == "active"
        assert children[0].is_running(), log.read_text()
        took = interrupt(process, log)
    text = log.read_text()
    assert took < 5.0, f"{took:.1f} s\n{text}"
    assert "Traceback" not in text and "escalating" not in text, text
