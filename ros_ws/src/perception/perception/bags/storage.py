"""Creating rosbag2 bags: the storage plugins and format versions rosbags can write."""

from __future__ import annotations

from pathlib import Path

from rosbags.rosbag2 import StoragePlugin, Writer

STORAGE_PLUGINS = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}
WRITE_VERSIONS = (8, 9)  # rosbag2 metadata versions of Jazzy (8) and Kilted (9)


def create_writer(out: str | Path, storage: str = "mcap", version: int = 9) -> Writer:
    """An unopened rosbags Writer for a new bag folder, with clear errors for bad choices.

    mcap is the default of Jazzy and later; sqlite3 is what Humble records (Humble reads
    version 8/9 sqlite3 and mcap bags only with a newer rosbag2, so prefer mcap for Jazzy+).
    """
    out = Path(out)
    if storage not in STORAGE_PLUGINS:
        raise ValueError(f"unknown storage {storage!r}; use one of {sorted(STORAGE_PLUGINS)}")
    if version not in WRITE_VERSIONS:
        raise ValueError(f"rosbags writes rosbag2 versions {WRITE_VERSIONS}, not {version}")
    if out.exists():
        raise FileExistsError(f"bag folder {out} already exists; choose a new output path or delete it")
    return Writer(out, version=version, storage_plugin=STORAGE_PLUGINS[storage])
