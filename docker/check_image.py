"""Build-time checks of a perception image (RUN in docker/Dockerfile.*): refuse a broken image.

python3 docker/check_image.py [--cuda]   (or PERCEPTION_REQUIRE_CUDA=1)
with ROS and ros_ws/install sourced and /opt/venv first on PATH:

- torch imports; with --cuda it must be a CUDA build (``torch.version.cuda``), and libcusparseLt,
  which NVIDIA's JetPack 6 torch links, must load;
- exactly one OpenCV distribution in the venv (opencv-python-headless) and ``cv2`` from it;
- numpy 1.x (Humble's and Jazzy's message packages are compiled against numpy 1);
- ``pip check`` clean but for ultralytics naming opencv-python (the headless wheel stands in);
- the installed node scripts start with ``#!/usr/bin/env python3`` and that python is the venv's;
- rclpy and perception_msgs import next to torch.
"""

from __future__ import annotations

import ctypes
import importlib.metadata as metadata
import os
import shutil
import subprocess
import sys
from pathlib import Path

VENV = Path(os.environ.get("PERCEPTION_VENV", "/opt/venv"))
INSTALL = Path(os.environ.get("PERCEPTION_INSTALL", "/opt/perception/ros_ws/install"))
ALLOWED_PIP_CHECK = "requires opencv-python, which is not installed"


def fail(message: str) -> None:
    sys.exit(f"check_image: {message}")


def main() -> None:
    cuda = "--cuda" in sys.argv[1:] or os.environ.get("PERCEPTION_REQUIRE_CUDA") == "1"
    import torch

    print(f"check_image: torch {torch.__version__} CUDA {torch.version.cuda} python {sys.version.split()[0]}")
    if cuda and not torch.version.cuda:
        fail("torch in this image is a CPU-only build where CUDA is expected: check TORCH_INDEX_URL")
    if cuda and sys.platform == "linux" and os.uname().machine == "aarch64":
        try:
            ctypes.CDLL("libcusparseLt.so.0")
        except OSError as error:
            fail(f"libcusparseLt missing (NVIDIA's JetPack torch needs it): {error}")

    opencvs = sorted({d.metadata["Name"].lower() for d in metadata.distributions()
                      if (d.metadata["Name"] or "").lower().startswith("opencv")})
    if opencvs != ["opencv-python-headless"]:
        fail(f"expected one OpenCV (opencv-python-headless), found {opencvs}")
    import cv2
    import numpy

    if not Path(cv2.__file__).resolve().is_relative_to(VENV.resolve()):
        fail(f"cv2 comes from {cv2.__file__}, not the venv's opencv-python-headless")
    if int(numpy.__version__.split(".")[0]) != 1:
        fail(f"numpy {numpy.__version__}: ROS message packages here are built against numpy 1")

    pip_check = [str(VENV / "bin" / "python"), "-m", "pip", "check"]
    result = subprocess.run(pip_check, capture_output=True, text=True)
    problems = [line for line in result.stdout.splitlines()
                if line.strip() and ALLOWED_PIP_CHECK not in line and "No broken requirements" not in line]
    if problems:
        fail("pip check: " + "; ".join(problems))

    python3 = shutil.which("python3")
    if not python3 or Path(python3).parent.resolve() != (VENV / "bin").resolve():
        fail(f"python3 on PATH is {python3}, not {VENV}/bin/python3: the node scripts would miss torch")
    scripts = sorted((INSTALL / "perception" / "lib" / "perception").iterdir())
    wrong = [s.name for s in scripts if s.read_text().splitlines()[0] != "#!/usr/bin/env python3"]
    if not scripts or wrong:
        fail(f"node scripts without the env shebang: {wrong or 'none installed'}")

    import rclpy  # noqa: F401

    import perception_msgs.msg  # noqa: F401

    print(f"check_image: ok ({len(scripts)} node scripts, numpy {numpy.__version__}, cv2 {cv2.__version__})")


if __name__ == "__main__":
    main()
