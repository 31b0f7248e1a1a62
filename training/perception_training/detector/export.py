"""Export our detector artifact to ultralytics ``.pt`` and ``.onnx`` (TensorRT starts from these).

``python -m perception_training.detector.export models/detector/yolo11n_synthetic.safetensors --out out/``
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import torch

from perception.core.detector import DEFAULT_IMGSZ, DetectorError, model_from_artifact
from perception.core.ultralytics_env import import_ultralytics


def export_detector(
    artifact: str | Path, out_dir: str | Path, formats: Sequence[str] = ("pt", "onnx")
) -> dict[str, Path]:
    """Export our artifact to ultralytics formats (``pt``, ``onnx``; TensorRT users start from those).

    The ``.pt`` is an ultralytics checkpoint (so ``yolo predict model=...pt`` works); the
    ``.onnx`` is exported from it at the artifact's input size with a fixed input shape.
    """
    unknown = set(formats) - {"pt", "onnx"}
    if unknown:
        raise DetectorError(f"cannot export to {sorted(unknown)}; supported formats are pt and onnx")
    ultralytics = import_ultralytics()
    model, metadata = model_from_artifact(artifact)
    imgsz = int(metadata.get("input_size", DEFAULT_IMGSZ))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pt_path = out_dir / f"{Path(artifact).stem}.pt"
    checkpoint = {
        "date": datetime.now(timezone.utc).isoformat(),
        "version": ultralytics.__version__,
        "model": model.half(),
        "train_args": {"task": "detect", "imgsz": imgsz},
        "perception": {
            key: metadata[key] for key in ("classes", "architecture", "input_size") if key in metadata
        },
    }
    torch.save(checkpoint, pt_path)
    written = {"pt": pt_path} if "pt" in formats else {}
    if "onnx" in formats:
        exported = ultralytics.YOLO(str(pt_path), task="detect").export(
            format="onnx", imgsz=imgsz, verbose=False
        )
        written["onnx"] = Path(exported)
    if "pt" not in formats:
        pt_path.unlink()
    return written


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
