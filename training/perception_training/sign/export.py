"""TorchScript exports of a sign artifact: a mobile-ready fp32 model and an INT8 one.

    python -m perception_training.sign.export --artifact models/sign/x3d_xs_sign.safetensors

writes ``<stem>_mobile.ptl`` and ``<stem>_int8.pt`` beside the artifact (what
``perception-train sign --export_mobile_model --quantize_model`` writes at the end of a run).

Both are traced at the artifact's clip shape (batch 1) and carry the artifact's metadata as the
``perception.json`` extra file, so ``SignRecognizer.load`` reads them like the artifact.

INT8 is dynamic quantisation of the Linear layers. FX static quantisation (Conv3d included)
also converts X3D here, but ran 5.8x slower than fp32 on this CPU (x3d_xs 4x160x160: 281 ms
against 49 ms, one thread; quantised 3D convolutions have no fast CPU kernels), so it is not
offered.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from perception.core.sign import TORCHSCRIPT_METADATA, load_sign_model
from perception.core.video_models import VideoModelSpec

LOG = logging.getLogger(__name__)


def export_mobile(artifact: Path, out: Path) -> Path:
    """Traced fp32 TorchScript, optimised for mobile where this torch build can (XNNPACK)."""
    model, metadata = load_sign_model(artifact)
    traced = _trace(model, metadata)
    try:
        from torch.utils.mobile_optimizer import optimize_for_mobile

        exported, optimised = optimize_for_mobile(traced), True
    except RuntimeError as error:  # builds without XNNPACK (the CUDA wheel here) cannot
        LOG.warning("optimize_for_mobile unavailable (%s); saving the frozen traced model", str(error)[:120])
        exported, optimised = torch.jit.freeze(traced), False
    return _save(exported, out, {**metadata, "export": "torchscript", "mobile_optimized": optimised})


def export_int8(artifact: Path, out: Path) -> Path:
    """Dynamic INT8 quantisation of every Linear layer (CPU inference), traced to TorchScript."""
    model, metadata = load_sign_model(artifact)
    quantised = torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)
    exported = _trace(quantised, metadata)
    return _save(
        exported, out, {**metadata, "export": "torchscript-int8", "quantization": "dynamic int8 Linear"}
    )


def _trace(model: nn.Module, metadata: dict[str, Any]) -> torch.jit.ScriptModule:
    spec = VideoModelSpec.from_dict({**metadata, "name": metadata["architecture"]})
    example = torch.zeros(1, 3, spec.num_frames, spec.crop_size, spec.crop_size)
    with torch.no_grad():
        return torch.jit.trace(model.eval(), example)


def _save(module: torch.jit.ScriptModule, out: Path, metadata: dict[str, Any]) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    extra = {TORCHSCRIPT_METADATA: json.dumps(metadata, sort_keys=True)}
    if out.suffix == ".ptl":
        module._save_for_lite_interpreter(str(out), _extra_files=extra)
    else:
        torch.jit.save(module, str(out), _extra_files=extra)
    LOG.info("exported %s (%.1f MB)", out, out.stat().st_size / 1e6)
    return out


def mobile_path(artifact: Path) -> Path:
    return artifact.with_name(f"{artifact.stem}_mobile.ptl")


def int8_path(artifact: Path) -> Path:
    return artifact.with_name(f"{artifact.stem}_int8.pt")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifact", type=Path, required=True, help="a sign .safetensors artifact")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    export_mobile(args.artifact, mobile_path(args.artifact))
    export_int8(args.artifact, int8_path(args.artifact))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
