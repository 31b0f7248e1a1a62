"""`ros2 launch perception jetson.launch.py` as a user runs it: Ctrl-C, bad arguments.

Ctrl-C in a terminal sends SIGINT to the whole process group (launch and every node), and
launch forwards its own: everything must end within launch's 5 s SIGTERM timeout, with no
escalation, no error line and no process left behind. Bad arguments must fail before any
node starts.
"""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest
from launch_helpers import interrupt, launched, node_names, requires_launch, wait_until_active

pytestmark = [requires_launch, pytest.mark.slow]
ALL = ["detector", "glass", "caption", "hazard"]
ERROR_MARKERS = ("ERROR", "escalating", "SIGTERM", "Traceback", "Failed to", "terminate called")


@pytest.mark.parametrize("nodes", [ALL, ["detector", "hazard"]], ids=["all", "subset"])
def test_ctrl_c_ends_every_process_in_time_without_errors(tmp_path: Path, nodes: list[str]) -> None:
    log = tmp_path / "launch.log"
    with launched(log, f"nodes:={','.join(nodes)}") as process:  # config/jetson.yaml, the default
        wait_until_active(node_names(nodes), 240.0)
        children = psutil.Process(process.pid).children(recursive=True)
        assert len(children) >= len(nodes), children
        took = interrupt(process, log)
    text = log.read_text()
    assert took < 5.0, f"{took:.1f} s\n{text}"
    assert [m for m in ERROR_MARKERS if m in text] == [], text
    assert [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE] == []


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("use_rviz:=true", "rviz2 is not installed"),
        ("nodes:=detector,radar", "unknown node(s) ['radar']"),
    ],
)
def test_bad_arguments_fail_before_any_node_starts(tmp_path: Path, argument: str, message: str) -> None:
    log = tmp_path / "launch.log"
    with launched(log, argument) as process:
        assert process.wait(timeout=120) != 0
    text = log.read_text()
    assert message in text, text
    assert "process started" not in text, text
