"""ultralytics' settings folder: never under a read-only install tree (issue 16, item 8).

ultralytics writes ``settings.json`` at import. In an image whose install tree is read-only, or a
container started as another user, the configured folder cannot be written; the node must then
use a per-user temporary folder instead of failing at configure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from perception.core import ultralytics_env


def test_unwritable_config_dir_falls_back_to_a_per_user_temp_folder(tmp_path, monkeypatch) -> None:
    blocker = tmp_path / "install-tree"
    blocker.write_text("a file where a folder would have to be created: mkdir fails, even as root")
    monkeypatch.setenv("YOLO_CONFIG_DIR", str(blocker / "cache"))
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(ultralytics_env.tempfile, "tempdir", None)  # re-read TMPDIR
    settings = ultralytics_env.configure()
    expected = tmp_path / "tmp" / f"perception-ultralytics-{os.getuid()}"
    assert settings == expected / "Ultralytics"
    assert os.environ["YOLO_CONFIG_DIR"] == str(expected)
    assert (settings / "Arial.ttf").is_file()


def test_ultralytics_import_writes_its_settings_to_the_fallback(tmp_path) -> None:
    blocker = tmp_path / "ro"
    blocker.write_text("")
    env = {k: v for k, v in os.environ.items() if k != "_ROS_WHEELS_BOOTSTRAP_COMPLETE"}
    env.update(YOLO_CONFIG_DIR=str(blocker / "cache"), TMPDIR=str(tmp_path), OMP_NUM_THREADS="1")
    code = (
        "from perception.core.ultralytics_env import import_ultralytics\n"
        "import_ultralytics()\n"
        "from ultralytics.utils import SETTINGS\n"
        "print(SETTINGS.file)\n"
    )
    command = [sys.executable, "-c", code]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    written = Path(result.stdout.strip().splitlines()[-1])
    assert written.parent == tmp_path / f"perception-ultralytics-{os.getuid()}" / "Ultralytics"
    assert json.loads(written.read_text())["sync"] is False
