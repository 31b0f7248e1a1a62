"""Make ultralytics fully offline and keep its files inside a project-owned folder.

ultralytics reads its environment at import time, writes a settings file to the home
directory, fetches ``Arial.ttf`` at the start of training even with ``YOLO_OFFLINE=1``, and
unpickles ``.pt`` checkpoints unless ``ULTRALYTICS_SAFE_LOAD=1``.
Import ultralytics through :func:`import_ultralytics` (or call :func:`configure` first) so a
robot without internet never tries to download anything. Every variable is only a default:
a user's own environment wins.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path
from types import ModuleType

import matplotlib

_FONT_NAME = "Arial.ttf"
_LOG = logging.getLogger(__name__)


def default_config_dir() -> Path:
    """``$PERCEPTION_ROOT/.cache/ultralytics``, or ``~/.cache/perception/ultralytics``."""
    root = os.environ.get("PERCEPTION_ROOT")
    if root:
        return Path(root) / ".cache" / "ultralytics"
    return Path.home() / ".cache" / "perception" / "ultralytics"


def fallback_config_dir() -> Path:
    """A per-user folder under the temporary directory, for when the configured one is read-only."""
    return Path(tempfile.gettempdir()) / f"perception-ultralytics-{os.getuid()}"


def _writable(settings_dir: Path) -> bool:
    try:
        settings_dir.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(settings_dir, os.W_OK | os.X_OK)


def configure() -> Path:
    """Set the offline switches and provide the font; return ultralytics' settings folder.

    Idempotent and cheap, so every module that uses ultralytics may call it. ultralytics writes
    ``settings.json`` there at import: where the folder cannot be written (a read-only install
    tree, a container started as another user, a home of ``/``), a per-user temporary folder is
    used instead, with a warning.
    """
    os.environ.setdefault("YOLO_OFFLINE", "1")
    # .pt checkpoints load with torch.load(weights_only=True) and an allow-list of model classes.
    os.environ.setdefault("ULTRALYTICS_SAFE_LOAD", "1")
    os.environ.setdefault("YOLO_CONFIG_DIR", str(default_config_dir()))
    settings_dir = Path(os.environ["YOLO_CONFIG_DIR"]).expanduser() / "Ultralytics"
    if not _writable(settings_dir):
        fallback = fallback_config_dir()
        _LOG.warning("ultralytics settings folder %s is not writable; using %s", settings_dir, fallback)
        os.environ["YOLO_CONFIG_DIR"] = str(fallback)
        settings_dir = fallback / "Ultralytics"
        settings_dir.mkdir(parents=True, exist_ok=True)
    font = settings_dir / _FONT_NAME
    if not font.is_file():
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
