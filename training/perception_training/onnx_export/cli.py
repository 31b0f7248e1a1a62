"""``perception-train export-onnx --artifact A [--out B]``: ``A.onnx`` beside the artifact.

For the detector, glass classifier, sign and captioner artifacts (the captioner's decoder step
goes beside it as ``A.decoder.onnx``). Prints the files and the largest difference between ONNX
Runtime and torch on a random input, per output.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from perception.core.artifacts import ArtifactError, read_metadata
from perception.core.onnx_session import PARTS, part_path
from perception_training.onnx_export.graph import write_onnx
from perception_training.onnx_export.models import EXPORTS


def export_onnx(artifact: Path, out: Path | None = None) -> tuple[Path, dict[str, float]]:
    """Export ``artifact`` to ``out`` (default: beside it, suffix ``.onnx``); see :func:`write_onnx`."""
    kind = read_metadata(artifact).get("kind")
    if kind not in EXPORTS:
        raise ArtifactError(
            f"{artifact} is a {kind!r} artifact; ONNX export covers {', '.join(sorted(EXPORTS))}"
        )
    return write_onnx(EXPORTS[kind](artifact), artifact, out or artifact.with_suffix(".onnx"))


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--artifact", type=Path, required=True, help="a .safetensors artifact")
    parser.add_argument("--out", type=Path, help="the .onnx to write (default: beside the artifact)")
    args = parser.parse_args(argv)
    path, differences = export_onnx(args.artifact, args.out)
    written = [path, *(part_path(path, part) for part in PARTS if part_path(path, part).is_file())]
    files = ", ".join(f"{file} ({file.stat().st_size / 2**20:.1f} MiB)" for file in written)
    agreement = ", ".join(f"{name} {value:.2g}" for name, value in differences.items())
    print(f"wrote {files}; max |onnxruntime - torch|: {agreement}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
