"""Shared helpers of the end-to-end tests: bags in, recorded outputs back, ground truth."""

from __future__ import annotations

from pathlib import Path

import pytest

from perception.bags.reading import read_messages

REPO_ROOT = Path(__file__).resolve().parents[2]
MODELS_DIR = REPO_ROOT / "models"
# How the graph runs: one process per node (as `ros2 launch`), or all in one (single_process:=true).
PROCESS_MODES = ("multi", "single")


def stamp_ns(header) -> int:
    """A header stamp as integer nanoseconds, the key outputs and ground truth share."""
    return header.stamp.sec * 1_000_000_000 + header.stamp.nanosec


def messages_by_stamp(bag: Path, topic: str) -> dict[int, object]:
    """Every message of ``topic`` in ``bag`` keyed by its header stamp."""
    return {stamp_ns(msg.header): msg for _, _, msg in read_messages(bag, [topic])}


def require_model(relative: str) -> Path:
    """The committed artifact an end-to-end test needs; fail loudly when it is missing."""
    path = MODELS_DIR / relative
    if not path.is_file():
        pytest.fail(f"{path} is missing: train it (see models/README.md) before the e2e tests")
    return path
