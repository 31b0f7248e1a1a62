"""Test-wide isolation: offline switches, a private DDS domain and ROS log folder per run."""

from __future__ import annotations

import logging
import os
import random
import signal
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("YOLO_CONFIG_DIR", str(REPO_ROOT / ".cache" / "ultralytics"))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
# One DDS domain per test run (0-101 are valid domain ids with default ports), so parallel
# runs on one host do not see each other's topics. Child processes inherit it.
os.environ.setdefault("ROS_DOMAIN_ID", str(random.Random(os.getpid()).randint(1, 100)))
os.environ.pop("_ROS_WHEELS_BOOTSTRAP_COMPLETE", None)
# On a 2-core machine running test processes and node processes side by side, torch's default
# of one OpenMP thread per core makes threads wait on each other (measured 5-8x slower than one
# thread). Child processes (nodes in the e2e tests) inherit the setting.
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session", autouse=True)
def ros_log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """rclpy writes logs under ROS_LOG_DIR; keep them out of the home directory."""
    log_dir = tmp_path_factory.mktemp("ros_log")
    os.environ["ROS_LOG_DIR"] = str(log_dir)
    return log_dir


@pytest.fixture(autouse=True)
def sigint_not_left_ignored(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test that leaves SIGINT ignored in this process gets it reset, with a warning naming it.

    Child processes inherit an ignored SIGINT (Python then installs no KeyboardInterrupt
    handler), so every later test that interrupts a node it spawned would see a node that was
    not started as a terminal or ros2 launch starts it.
    """
    yield
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        warnings.warn(f"{request.node.nodeid} left SIGINT ignored; reset to the default", stacklevel=1)


@pytest.fixture(scope="session")
def python_executable() -> str:
    """The interpreter running the tests, for starting nodes in child processes."""
    return sys.executable


@pytest.fixture(autouse=True)
def propagating_loggers() -> None:
    """Undo what importing ROS 2 ``launch`` does to logging (its pytest plugins import it).

    ``launch.logging`` makes every logger created afterwards a LaunchLogger that does not
    propagate, and sets that class again whenever launch resets its logging; records of our
    modules would then never reach pytest's caplog. Launch's own loggers keep their handlers.
    """
    logging.setLoggerClass(logging.Logger)
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if type(logger).__name__ == "LaunchLogger" and not name.startswith("launch"):
            logger.propagate = True
