"""Fixtures for node tests: an in-process ROS graph (``ros_graph.RosGraph``) per test and a
stand-in model file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ros_graph import RosGraph


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    """A stand-in model file: test-double models (``model_factory``) only check that it exists."""
    path = tmp_path / "stub.safetensors"
    path.write_bytes(b"stub weights")
    return path


@pytest.fixture
def ros() -> Iterator[RosGraph]:
    graph = RosGraph()
    try:
        yield graph
    finally:
        graph.close()
