"""``perception_bag replay --remap`` keeps its own option out of rcl's arguments.

rcl read ``FROM:=TO`` outside ``--ros-args`` as a remap in the deprecated syntax and warned.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_replay_remap_is_not_passed_to_rcl(tmp_path: Path) -> None:
    cli = [str(Path(sys.executable).with_name("perception_bag"))]
    bag = tmp_path / "bag"
    subprocess.run([*cli, "write-synthetic", str(bag), "--frames", "2"], check=True, capture_output=True)
    replay = subprocess.run(
        [*cli, "replay", str(bag), "--remap", "/camera/image_raw:=/other", "--ros-args", "-r", "__node:=p"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert replay.returncode == 0, replay.stderr
    assert "published" in replay.stderr
    assert "deprecated" not in replay.stderr.lower(), replay.stderr
