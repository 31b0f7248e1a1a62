#!/usr/bin/env bash
# Locks for the deployment targets, resolved by pip for each target's platform and Python from
# PyPI alone (this machine's pip configuration, local wheel folders and torch cap, is ignored):
#
#   bash scripts/lock_targets.sh write [TARGET...]   regenerate requirements/lock-<target>.txt
#   bash scripts/lock_targets.sh check [TARGET...]   resolve again against the lock; print one
#                                                    JSON line per target; exit 1 on a mismatch,
#                                                    3 when PyPI cannot be reached
#   bash scripts/lock_targets.sh list                the targets, one per line
#
# Targets (the dev venv's own lock stays requirements/constraints.txt, scripts/lock.sh):
#   runtime-jetson-py310   runtime.txt on JetPack 6 (L4T r36, Ubuntu 22.04: glibc 2.35, aarch64,
#                          Python 3.10) beside ROS 2 Humble: numpy<2; torch/torchvision are
#                          NVIDIA's JetPack builds, installed from NVIDIA's index only. For the
#                          resolution they are stand-in wheels that declare what NVIDIA's wheels
#                          declare (PyPI's aarch64 torch asks for a triton PyPI does not have for
#                          aarch64, and is not the build a Jetson runs).
#   runtime-desktop-py312  runtime.txt on ros:jazzy (Ubuntu 24.04: glibc 2.39, x86_64, Python 3.12):
#                          numpy<2 (Jazzy's message packages are built against numpy 1.26);
#                          PyPI's CUDA torch 2.14.1 / torchvision 0.29.1.
#   training-py311         training.txt on the training machine (x86_64, Python 3.11), pinned to
#                          the dev venv's versions. Resolved for this machine's platform without
#                          --only-binary: fvcore, iopath and pycocoevalcap exist only as sdists.
#   dev-py311              dev.txt (tests, lint) on x86_64 / Python 3.11.
# Every runtime lock holds one OpenCV: ultralytics asks for opencv-python, the lock carries
# opencv-python-headless of the same version instead (the images install the lock --no-deps).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PERCEPTION_LOCK_PYTHON:-$ROOT/.venv/bin/python}"
[[ -x "$PY" ]] || PY=python3
# PyPI only: no config files (find-links, local indexes, this machine's torch cap), no PIP_* vars.
for var in $(env | sed -n 's/^\(PIP_[A-Z_]*\)=.*/\1/p'); do
  [[ "$var" == PIP_CERT || "$var" == PIP_DEFAULT_TIMEOUT ]] || unset "$var"
done
export PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1
unset _ROS_WHEELS_BOOTSTRAP_COMPLETE
exec "$PY" - "$ROOT" "$@" <<'PY'
import base64
import hashlib
import json
import re
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(sys.argv[1])
REQ = ROOT / "requirements"

# NVIDIA's JetPack 6 wheels (Jetson AI Lab index jp6/cu126): the versions, and what their
# metadata requires (a source build of torch declares no nvidia-* / triton wheels).
NVIDIA_TORCH = {
    "torch": ("2.8.0", ["filelock", "typing-extensions>=4.10.0",
                        'setuptools; python_version >= "3.12"', "sympy>=1.13.3", "networkx",
                        "jinja2", "fsspec"]),
    "torchvision": ("0.23.0", ["numpy", "torch==2.8.0", "pillow!=8.3.*,>=5.3.0"]),
}

# Packages PyPI has only as sdists (pure data / pure Python): --only-binary cannot resolve them,
# so a stand-in wheel of the pinned version takes their place in the resolution; installing the
# lock builds them from the sdist (no compiler needed).
SDIST_ONLY = {
    "kiwipiepy_model": ("0.24.0", []),  # Korean morpheme model, for kiwipiepy 0.24.x
    # PyTorchVideo (the sign node's video models) and its two sdist-only dependencies; their
    # requirements as their own metadata declares them.
    "pytorchvideo": ("0.1.5", ["fvcore", "av", "parameterized", "iopath", "networkx"]),
    "fvcore": ("0.1.5.post20221221", ["numpy", "yacs>=0.1.6", "pyyaml>=5.1", "tqdm", "termcolor>=1.1",
                                      "Pillow", "tabulate", "iopath>=0.1.7"]),
    "iopath": ("0.1.10", ["tqdm", "typing_extensions", "portalocker"]),
}

TARGETS = {
    "runtime-jetson-py310": dict(
        requirements="runtime.txt", python="3.10", arch="aarch64", glibc=35,
        constraints=["numpy<2"], stubs={**NVIDIA_TORCH, **SDIST_ONLY},
        about="runtime.txt for JetPack 6 + ROS 2 Humble (aarch64, Python 3.10, glibc 2.35)"),
    "runtime-desktop-py312": dict(
        requirements="runtime.txt", python="3.12", arch="x86_64", glibc=39,
        constraints=["numpy<2", "torch==2.14.1", "torchvision==0.29.1"], stubs=SDIST_ONLY,
        about="runtime.txt for ros:jazzy (x86_64, Python 3.12, glibc 2.39)"),
    "training-py311": dict(
        requirements="training.txt", python="3.11", arch=None, glibc=None,
        constraints=[f"-c {REQ / 'constraints.txt'}"], stubs={},
        about="training.txt for the training machine (x86_64, Python 3.11), dev-venv versions"),
    "dev-py311": dict(
        requirements="dev.txt", python="3.11", arch="x86_64", glibc=36,
        constraints=[f"-c {REQ / 'constraints.txt'}"], stubs={},
        about="dev.txt (tests, lint) for x86_64 / Python 3.11"),
}
OPENCV_GUI, OPENCV = "opencv-python", "opencv-python-headless"


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def platforms(target: dict) -> list[str]:
    """pip does not widen manylinux_2_35 to older tags by itself: name every one."""
    if target["arch"] is None:
        return []
    arch = target["arch"]
    tags = [f"manylinux_2_{minor}_{arch}" for minor in range(target["glibc"], 16, -1)]
    return tags + [f"manylinux2014_{arch}", f"linux_{arch}"]


def stub_wheel(folder: Path, name: str, version: str, requires: list[str], python: str) -> Path:
    """A wheel with NVIDIA's name, version, tags and declared requirements, and no code
    (``py3-none-any`` for a package PyPI has only as an sdist)."""
    cp = "cp" + python.replace(".", "")
    tags = "py3-none-any" if name in SDIST_ONLY else f"{cp}-{cp}-linux_aarch64"
    path = folder / f"{name}-{version}-{tags}.whl"
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{dist}/METADATA": "Metadata-Version: 2.1\nName: {}\nVersion: {}\n{}".format(
            name, version, "".join(f"Requires-Dist: {r}\n" for r in requires)),
        f"{dist}/WHEEL": f"Wheel-Version: 1.0\nGenerator: lock_targets\nRoot-Is-Purelib: false\n"
                         f"Tag: {tags}\n",
    }
    record = []
    with zipfile.ZipFile(path, "w") as archive:
        for member, text in files.items():
            data = text.encode()
            archive.writestr(member, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{member},sha256={digest},{len(data)}")
        archive.writestr(f"{dist}/RECORD", "\n".join(record + [f"{dist}/RECORD,,"]) + "\n")
    return path


def read_lock(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[norm(name)] = version.strip()
    return pins


def resolve(name: str, lock: Path | None) -> dict[str, str]:
    """pip's dry-run resolution of the target (against ``lock`` when given): {name: version}."""
    target = TARGETS[name]
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        command = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed",
                   "--quiet", "--report", str(scratch / "report.json"),
                   "-r", str(REQ / target["requirements"])]
        extra = scratch / "extra.txt"
        extra.write_text("\n".join(target["constraints"]) + "\n")
        command += ["-c", str(extra)]
        if target["arch"]:
            for tag in platforms(target):
                command += ["--platform", tag]
            command += ["--python-version", target["python"], "--implementation", "cp",
                        "--only-binary=:all:", "--target", str(scratch / "target")]
        for stub, (version, requires) in target["stubs"].items():
            wheel = stub_wheel(scratch, stub, version, requires, target["python"])
            command.append(f"{stub} @ {wheel.as_uri()}")
        if lock is not None:
            stubbed = {norm(stub) for stub in target["stubs"]}
            pins = {k: v for k, v in read_lock(lock).items() if k not in stubbed}
            pinned = scratch / "lock.txt"
            pinned.write_text("".join(f"{k}=={v}\n" for k, v in sorted(pins.items())))
            command += ["-c", str(pinned)]
        result = subprocess.run(command, cwd=REQ, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(result.stderr.strip()[-3000:] or result.stdout[-3000:])
        report = json.loads((scratch / "report.json").read_text())
    return {norm(item["metadata"]["name"]): item["metadata"]["version"] for item in report["install"]}


def expected_lock(name: str, resolved: dict[str, str]) -> dict[str, str]:
    """The resolution as the image installs it: one OpenCV (headless)."""
    pins = dict(resolved)
    if OPENCV_GUI in pins:
        headless = pins.get(OPENCV)
        if headless != pins[OPENCV_GUI]:
            raise RuntimeError(f"{OPENCV_GUI} {pins[OPENCV_GUI]} != {OPENCV} {headless}")
        del pins[OPENCV_GUI]
    return pins


def pypi_reachable() -> bool:
    try:
        urllib.request.urlopen("https://pypi.org/simple/pip/", timeout=15).close()
        return True
    except OSError:
        return False


def write(name: str) -> None:
    target = TARGETS[name]
    pins = expected_lock(name, resolve(name, None))
    path = REQ / f"lock-{name}.txt"
    header = [
        f"# Lock: {target['about']}.",
        f"# Written by `bash scripts/lock_targets.sh write {name}` (pip's resolution for that platform,",
        "# from PyPI); tests/deploy/test_locks.py resolves it again. Install with --no-deps.",
    ]
    nvidia = [stub for stub in target["stubs"] if stub in NVIDIA_TORCH]
    if nvidia:
        header.append("# " + ", ".join(nvidia) + ": NVIDIA's JetPack builds, from NVIDIA's index only "
                      "(docker/Dockerfile.jetson).")
    sdists = [stub for stub in target["stubs"] if stub in SDIST_ONLY]
    if sdists:
        header.append("# " + ", ".join(sdists) + ": sdist only on PyPI (pure data), built at install.")
    if name.startswith("runtime"):
        header.append(f"# One OpenCV: {OPENCV} stands in for ultralytics' {OPENCV_GUI}.")
    body = [f"{n}=={v}" for n, v in sorted(pins.items())]
    path.write_text("\n".join(header + body) + "\n")
    print(f"lock: wrote {path.relative_to(ROOT)} ({len(body)} packages)")


def check(name: str) -> bool:
    target = TARGETS[name]
    path = REQ / f"lock-{name}.txt"
    lock = read_lock(path)
    row = {"target": name, "python": target["python"], "platforms": platforms(target)[:1],
           "requirements": target["requirements"]}
    try:
        pins = expected_lock(name, resolve(name, path))
    except RuntimeError as error:
        row.update(ok=False, error=str(error))
        print(json.dumps(row))
        return False
    missing = sorted(set(pins) - set(lock))
    extra = sorted(set(lock) - set(pins))
    differ = sorted(k for k in set(pins) & set(lock) if pins[k] != lock[k])
    row.update(ok=not (missing or extra or differ), packages=len(pins), missing=missing,
               extra=extra, differ=differ, torch=pins.get("torch"), numpy=pins.get("numpy"),
               opencv=pins.get(OPENCV))
    print(json.dumps(row))
    return row["ok"]


def main() -> int:
    args = sys.argv[2:]
    if not args or args[0] not in ("write", "check", "list"):
        print(__doc__ or "usage: lock_targets.sh write|check|list [TARGET...]", file=sys.stderr)
        return 2
    if args[0] == "list":
        print("\n".join(TARGETS))
        return 0
    names = args[1:] or list(TARGETS)
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        print(f"unknown target(s) {unknown}; known: {list(TARGETS)}", file=sys.stderr)
        return 2
    if not pypi_reachable():
        print("PyPI (https://pypi.org) cannot be reached", file=sys.stderr)
        return 3
    if args[0] == "write":
        for name in names:
            write(name)
        return 0
    return 0 if all([check(name) for name in names]) else 1


sys.exit(main())
PY
