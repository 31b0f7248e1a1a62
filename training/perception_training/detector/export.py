"""Export our detector artifact to ultralytics ``.pt`` and ``.onnx`` (TensorRT starts from these).

``python -m perception_training.detector.export models/detector/yolo11n_synthetic.safetensors --out out/``
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from perception.core.detector import export_detector


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: print the path of each exported file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("artifact", type=Path, help="our .safetensors detector artifact")
    parser.add_argument("--out", type=Path, required=True, help="folder for the exported files")
    parser.add_argument("--formats", nargs="+", default=["pt", "onnx"], choices=["pt", "onnx"])
    args = parser.parse_args(argv)
    for fmt, path in export_detector(args.artifact, args.out, args.formats).items():
        print(f"{fmt}: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
