"""Make ultralytics fully offline and keep its files inside a project-owned folder.

ultralytics reads its environment at import time, writes a settings file to the home
directory, fetches ``Arial.ttf`` at the start of training even with ``YOLO_OFFLINE=1``, and
unpickles ``.pt`` checkpoints unless ``ULTRALYTICS_SAFE_LOAD=1``.
Import ultralytics through :func:`import_ultralytics` (or call :func:`configure` first) so a
robot without internet never tries to download anything. Every variable is only a default:
a user's own environment wins.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from types import ModuleType

import matplotlib

_FONT_NAME = "Arial.ttf"


def default_config_dir() -> Path:
    """``$PERCEPTION_ROOT/.cache/ultralytics``, or ``~/.cache/perception/ultralytics``."""
    root = os.environ.get("PERCEPTION_ROOT")
    if root:
        return Path(root) / ".cache" / "ultralytics"
    return Path.home() / ".cache" / "perception" / "ultralytics"


def configure() -> Path:
    """Set the offline switches and provide the font; return ultralytics' settings folder.

    Idempotent and cheap, so every module that uses ultralytics may call it.
    """
    os.environ.setdefault("YOLO_OFFLINE", "1")
    # .pt checkpoints load with torch.load(weights_only=True) and an allow-list of model classes.
    os.environ.setdefault("ULTRALYTICS_SAFE_LOAD", "1")
    os.environ.setdefault("YOLO_CONFIG_DIR", str(default_config_dir()))
    settings_dir = Path(os.environ["YOLO_CONFIG_DIR"]).expanduser() / "Ultralytics"
    font = settings_dir / _FONT_NAME
    if not font.is_file():
        settings_dir.mkdir(parents=True, exist_ok=True)
        bundled = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
        tmp = font.with_name(font.name + f".{os.getpid()}.tmp")
        shutil.copyfile(bundled, tmp)
        tmp.replace(font)
    return settings_dir


def import_ultralytics() -> ModuleType:
    """Configure the environment, import ultralytics, and switch its telemetry off."""
    configure()
    import ultralytics
    from ultralytics.utils import SETTINGS

    if SETTINGS.get("sync", False):
        SETTINGS.update(sync=False)
    return ultralytics
